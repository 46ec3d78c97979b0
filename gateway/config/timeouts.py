"""Upstream timeouts by phase, per provider with per-model overrides.

One deadline cannot serve every phase of a call: a provider that never accepts the connection should fail in
seconds, a model may think a while before its first token, a stream may then run for minutes but must not go
silent, and nothing should run forever. So each phase has its own limit:

- `connect_timeout_s`: TCP and TLS set-up (per provider only: it is the host's, not the model's);
- `first_byte_timeout_s`: from sending the request to the first byte of the answer (a stream's first event, a
  non-streamed call's response, which arrives when the whole answer is ready). Before that byte nothing reached the
  client, so a first-byte timeout is retried and then falls back like any failure before the answer began;
- `stream_idle_timeout_s`: the longest silence between two stream chunks;
- `timeout_s`: the whole of a non-streamed call; `stream_timeout_s`: the whole of a stream (none by default).

A stream that times out after its first byte ends with an error event (its text may already be with the client).
A model entry may override any of these but the connect timeout, e.g. a slow reasoning model's first byte.
"""

from __future__ import annotations

from typing import Any

from gateway.config.reader import Reader
from gateway.config.yaml_source import Path

PROVIDER_TIMEOUT_KEYS = ("connect_timeout_s", "first_byte_timeout_s", "stream_idle_timeout_s", "timeout_s",
                         "stream_timeout_s")
MODEL_TIMEOUT_KEYS = PROVIDER_TIMEOUT_KEYS[1:]


def read_timeouts(reader: Reader, data: dict[str, Any], path: Path, keys: tuple[str, ...]) -> dict[str, float]:
    """The timeouts `data` sets (only those), each a positive number of seconds."""
    values = {key: reader.value(data, path, key, float, None, minimum=0.001) for key in keys}
    return {key: value for key, value in values.items() if value is not None}
