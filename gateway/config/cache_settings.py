"""The `cache:` section of the configuration: bounds and shared-storage settings for the exact and semantic caches.

What may be cached for a given request (on or off, TTL, temperature limit) is the policies' business; this section
holds what is the same for every request: memory bounds, the Redis key prefix and timeout, and the embedder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.config.reader import Reader
from gateway.config.yaml_source import Path

SCOPES = ("tenant", "shared")
EMBEDDER_KINDS = ("auto", "local", "upstream", "hashing")


@dataclass(frozen=True)
class SemanticSettings:
    embedder: str = "auto"              # auto: the local ONNX model when present, else the built-in hashing embedder
    model_dir: str | None = None        # default: $GATEWAY_MODEL_DIR
    variant: str = "auto"               # auto | int8 | fp32 (ONNX weights)
    upstream_model: str | None = None   # a catalog embedding model, for embedder: upstream
    threshold: float | None = None      # cosine a neighbour must reach; default: the verifier's calibrated value
    # Longer turns skip the semantic cache: embedding costs grow with length (about 5 ms of CPU for a short
    # question, 60 ms for 150 tokens on one core), while what repeats in other words is mostly short questions.
    max_question_tokens: int = 64
    max_entries: int = 200_000          # per replica, all namespaces together; the oldest go first
    sync_interval_s: float = 1.0        # how often a replica picks up entries other replicas stored in Redis


@dataclass(frozen=True)
class CacheSettings:
    memory_max_bytes: int = 256 * 1024 * 1024
    scope: str = "tenant"               # tenant: each tenant its own entries; shared: one pool for all clients
    max_ttl_s: int = 7 * 24 * 3600      # a per-request TTL (x-gateway-cache-ttl) is capped here
    redis_prefix: str = "gateway"
    redis_timeout_s: float = 0.05       # a Redis call slower than this is skipped: the request goes on without it
    semantic: SemanticSettings = field(default_factory=SemanticSettings)


def read_cache_settings(reader: Reader, data: dict[str, Any], model_dir: str | None = None) -> CacheSettings:
    """`model_dir`: where the embedding model is when the file names none ($GATEWAY_MODEL_DIR, read at load)."""
    path: Path = ("cache",)
    reader.known_keys(data, path, ("memory_max_mb", "scope", "max_ttl_s", "redis_prefix", "redis_timeout_ms",
                                   "semantic"))
    defaults = CacheSettings()
    memory_mb = reader.value(data, path, "memory_max_mb", float, defaults.memory_max_bytes / 2**20, minimum=0)
    timeout_ms = reader.value(data, path, "redis_timeout_ms", float, defaults.redis_timeout_s * 1000, minimum=1)
    return CacheSettings(
        memory_max_bytes=int(memory_mb * 2**20),
        scope=reader.value(data, path, "scope", str, defaults.scope, choices=SCOPES),
        max_ttl_s=reader.value(data, path, "max_ttl_s", int, defaults.max_ttl_s, minimum=1),
        redis_prefix=reader.value(data, path, "redis_prefix", str, defaults.redis_prefix),
        redis_timeout_s=timeout_ms / 1000,
        semantic=_read_semantic(reader, reader.mapping(data.get("semantic"), path + ("semantic",)), model_dir),
    )


def _read_semantic(reader: Reader, data: dict[str, Any], model_dir: str | None) -> SemanticSettings:
    path: Path = ("cache", "semantic")
    reader.known_keys(data, path, ("embedder", "model_dir", "variant", "upstream_model", "threshold", "max_entries",
                                   "sync_interval_s", "max_question_tokens"))
    defaults = SemanticSettings()
    threshold = reader.value(data, path, "threshold", float, None, minimum=0.0)
    if threshold is not None and threshold > 1.0:
        reader.issue(path + ("threshold",), f"must be a cosine similarity between 0 and 1, got {threshold}")
        threshold = None
    return SemanticSettings(
        embedder=reader.value(data, path, "embedder", str, defaults.embedder, choices=EMBEDDER_KINDS),
        model_dir=reader.value(data, path, "model_dir", str) or model_dir or None,
        variant=reader.value(data, path, "variant", str, defaults.variant, choices=("auto", "int8", "fp32")),
        upstream_model=reader.value(data, path, "upstream_model", str),
        threshold=threshold,
        max_entries=reader.value(data, path, "max_entries", int, defaults.max_entries, minimum=1),
        sync_interval_s=reader.value(data, path, "sync_interval_s", float, defaults.sync_interval_s, minimum=0.05),
        max_question_tokens=reader.value(data, path, "max_question_tokens", int, defaults.max_question_tokens,
                                         minimum=1),
    )
