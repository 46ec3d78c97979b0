"""What a client may tell the cache about one request, in headers.

`x-gateway-cache`:
- `no-cache`: do not answer from the cache and do not store this answer (a bypass);
- `no-store`: an answer from the cache is fine, but do not keep this one (private or one-off content);
- `refresh`: do not answer from the cache, and store the fresh answer in place of the old one.
`x-gateway-cache-ttl: SECONDS`: keep this answer that long (capped by `cache.max_ttl_s`; 0 stores nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from gateway.server.errors import invalid

_DIRECTIVES = {"no-cache": (False, False), "no-store": (True, False), "refresh": (False, True)}


@dataclass(frozen=True)
class CacheControl:
    lookup: bool = True
    store: bool = True
    ttl_s: int | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> "CacheControl":
        directive = headers.get("x-gateway-cache", "").strip().lower()
        if directive and directive not in _DIRECTIVES:
            raise invalid(f"'x-gateway-cache' must be one of {', '.join(_DIRECTIVES)}, got {directive!r}.",
                          "x-gateway-cache")
        lookup, store = _DIRECTIVES.get(directive, (True, True))
        return cls(lookup, store, _ttl(headers.get("x-gateway-cache-ttl")))


def _ttl(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        seconds = int(value.strip())
    except ValueError:
        seconds = -1
    if seconds < 0:
        raise invalid(f"'x-gateway-cache-ttl' must be a whole number of seconds, got {value!r}.",
                      "x-gateway-cache-ttl")
    return seconds
