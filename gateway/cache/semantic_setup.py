"""Building the semantic cache from the configuration: the embedder (local model, upstream, or the built-in
fallback), the verifier and its threshold. Loading a model takes a moment, so the gateway does it off the event
loop at start-up and serves meanwhile with the exact cache alone."""

from __future__ import annotations

import asyncio
import logging

from gateway.cache.embedder import EmbedderSettings, load_embedder
from gateway.cache.semantic import SemanticCache
from gateway.cache.service import CacheService
from gateway.cache.verifier import Verifier
from gateway.config.settings import Settings

log = logging.getLogger(__name__)


def embedder_settings(settings: Settings) -> EmbedderSettings:
    semantic = settings.cache.semantic
    values = {"kind": semantic.embedder, "model_dir": semantic.model_dir, "variant": semantic.variant}
    model = settings.find_model(semantic.upstream_model) if semantic.upstream_model else None
    if model is not None:
        provider = settings.providers[model.provider]
        values.update(upstream_model=model.upstream_model, upstream_base_url=provider.base_url,
                      upstream_api_key=provider.api_key)
    return EmbedderSettings(**values)


def build_semantic(settings: Settings, cache: CacheService) -> SemanticCache:
    embedder = load_embedder(embedder_settings(settings))
    if settings.cache.semantic.embedder == "auto" and embedder.describe().get("fallback"):
        # The verifier is calibrated on MiniLM's similarities; the hashing embedder's would pass look-alikes
        # (QQP: precision 0.54 at cosine alone). Safer to answer fewer requests from the cache than wrong ones.
        raise LookupError(f"off: {embedder.describe().get('reason')}; set cache.semantic.model_dir or "
                          "GATEWAY_MODEL_DIR (or embedder: hashing with a threshold of your own)")
    return SemanticCache(embedder, Verifier.load_default(), cache.redis, cache.memory, settings.cache.redis_prefix,
                         settings.cache.semantic.threshold, settings.cache.semantic.max_entries)


async def attach_semantic(settings: Settings, cache: CacheService) -> None:
    try:
        semantic = await asyncio.get_running_loop().run_in_executor(None, build_semantic, settings, cache)
    except LookupError as exc:
        log.warning("semantic cache %s", exc)
        cache.semantic_error = str(exc)
        return
    except Exception as exc:  # a broken model folder must not take the gateway down: exact caching goes on
        log.error("semantic cache disabled: %s", exc)
        cache.semantic_error = f"failed: {exc}"
        return
    cache.attach_semantic(semantic)
    log.info("semantic cache ready: %s", semantic.embedder.describe())
