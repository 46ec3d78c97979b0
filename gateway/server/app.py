"""Builds the gateway's aiohttp application and runs it."""

from __future__ import annotations

import asyncio
import gc
import logging

from aiohttp import web

from gateway.accounting.tokens import counter_for_encoding
from gateway.cache.semantic_setup import attach_semantic
from gateway.config.settings import Settings
from gateway.limits.hooks import stamp_rate_headers
from gateway.server import dashboard, endpoints, metrics
from gateway.server.chat import chat_completions
from gateway.server.middleware import openai_errors, stamp_request_id
from gateway.server.state import STATE, GatewayState

log = logging.getLogger(__name__)
POLICY_WATCHER = web.AppKey("policy_watcher", asyncio.Task)
KEY_WATCHER = web.AppKey("key_watcher", asyncio.Task)
SEMANTIC_LOADER = web.AppKey("semantic_loader", asyncio.Task)
VOCABULARY_LOADS = web.AppKey("vocabulary_loads", list)
HEAP_FREEZER = web.AppKey("heap_freezer", asyncio.Task)


def create_app(settings: Settings) -> web.Application:
    app = web.Application(middlewares=[openai_errors], client_max_size=settings.server.max_body_bytes)
    app[STATE] = GatewayState.create(settings)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", endpoints.list_models)
    app.router.add_post("/v1/embeddings", endpoints.embeddings)
    app.router.add_get("/v1/gateway/stats", endpoints.stats)
    app.router.add_post("/v1/gateway/evaluate", endpoints.evaluate)
    app.router.add_get("/metrics", metrics.render)
    app.router.add_get("/dashboard", dashboard.page)
    app.router.add_get("/v1/gateway/dashboard-data", dashboard.data)
    app.router.add_get("/healthz", endpoints.healthz)
    app.router.add_get("/readyz", endpoints.readyz)
    app.on_response_prepare.append(stamp_rate_headers)
    app.on_response_prepare.append(stamp_request_id)
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return app


async def _start(app: web.Application) -> None:
    state = app[STATE]
    await state.upstream.start()
    # Loading a vocabulary takes most of a second: do it now, off the event loop, not on the first request.
    loop = asyncio.get_running_loop()
    app[VOCABULARY_LOADS] = [loop.run_in_executor(None, counter_for_encoding, encoding)
                             for encoding in ("o200k_base", "cl100k_base")]
    app[POLICY_WATCHER] = asyncio.create_task(
        state.decider.policies.watch(state.settings.policies.reload_interval_s))
    app[KEY_WATCHER] = asyncio.create_task(state.keys.watch(state.settings.auth.reload_interval_s))
    app[SEMANTIC_LOADER] = asyncio.create_task(attach_semantic(state.settings, state.cache))


async def _freeze_heap_once_loaded(app: web.Application) -> None:
    app[HEAP_FREEZER] = asyncio.create_task(_freeze_heap_after([app[SEMANTIC_LOADER], *app[VOCABULARY_LOADS]]))


async def _freeze_heap_after(loads: list[asyncio.Future]) -> None:
    """Once start-up has loaded everything (catalog, policies, router weights, vocabularies, the embedder), take
    those objects out of the garbage collector's view: a full collection otherwise walks them all (about 75k
    objects) and stalls the event loop for 15-25 ms whenever it comes, long after start-up (measured in session 5)."""
    await asyncio.gather(*loads, return_exceptions=True)
    gc.collect()
    gc.freeze()
    log.info("start-up heap frozen: %d objects out of the garbage collector's view", gc.get_freeze_count())


async def _stop(app: web.Application) -> None:
    if HEAP_FREEZER in app:
        app[HEAP_FREEZER].cancel()
    app[POLICY_WATCHER].cancel()
    app[KEY_WATCHER].cancel()
    app[SEMANTIC_LOADER].cancel()
    await app[STATE].upstream.close()
    await app[STATE].cache.close()


def run_gateway(settings: Settings, host: str, port: int) -> None:
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        log.info("uvloop not available; using the default asyncio event loop")
    app = create_app(settings)
    app.on_startup.append(_freeze_heap_once_loaded)  # the served process only: tests build many apps in one
    log.info("gateway listening on http://%s:%d/v1 (%d models, client auth %s)", host, port,
             len(settings.catalog()), "on" if settings.client_keys else "off")
    # handler_cancellation: a client that disconnects cancels its request, so the upstream call (and a split
    # request's workers) stop too, and nobody pays for an answer no one reads.
    web.run_app(app, host=host, port=port, access_log=logging.getLogger("gateway.access")
                if settings.server.access_log else None, print=None, handler_cancellation=True)
