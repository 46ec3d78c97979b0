"""HTTP routes of the simulated upstream: the OpenAI endpoints plus `/sim/*` controls for tests.

Handlers only sequence the steps (parse, log, authenticate, inject a fault, plan, wait, write); every decision lives
in its own module so each can be tested and tuned alone.
"""

from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

from . import faults
from .completions import Planner, RequestError
from .embeddings import embed
from .errors import error_response, invalid_api_key, invalid_request, missing_api_key
from .faults import Fault, FaultPicker, UnknownFault
from .latency import PROFILE_MODELS, timing_for
from .options import SimOptions
from .replay import ReplayStore, model_key
from .request_log import RequestLog
from .shapes import completion_body, embedding_body, models_body, now, random_id
from .streaming import send_stream
from .tokenizer import tokenizer_for_model

MAX_BODY_BYTES = 64 * 1024 * 1024
EMBEDDING_LATENCY_S = 0.03
EMBEDDING_TOKENS_PER_S = 100_000.0


@dataclass
class SimState:
    """Everything one simulator instance remembers between requests."""

    options: SimOptions
    replay: ReplayStore
    planner: Planner
    faults: FaultPicker
    log: RequestLog = field(default_factory=RequestLog)
    shutdown: asyncio.Event = field(default_factory=asyncio.Event)
    background: set[asyncio.Future[Any]] = field(default_factory=set)


STATE = web.AppKey("sim_state", SimState)


def build_sim_app(options: SimOptions | None = None) -> web.Application:
    """A ready-to-run aiohttp application; replay files load in the background from startup (or on first use)."""
    options = options or SimOptions()
    replay = ReplayStore(options.replay_paths)
    state = SimState(options, replay, Planner(options, replay), FaultPicker(options))
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[STATE] = state
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_post("/v1/embeddings", embeddings)
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model:.+}", get_model)
    app.router.add_get("/sim/requests", get_requests)
    app.router.add_delete("/sim/requests", clear_requests)
    app.router.add_get("/sim/health", health)
    app.router.add_route("*", "/v1/{tail:.*}", unknown_route)
    app.on_startup.append(_on_startup)
    app.on_shutdown.append(_on_shutdown)
    return app


async def _on_startup(app: web.Application) -> None:
    state = app[STATE]
    state.shutdown = asyncio.Event()  # bound to the running loop
    loop = asyncio.get_running_loop()
    # Load the tokenizers (and replay files) in the background now, not on the first request's latency budget.
    jobs = [loop.run_in_executor(None, _warm_tokenizers)]
    if state.replay.enabled:
        jobs.append(asyncio.ensure_future(state.replay.ensure_loaded()))
    for job in jobs:
        state.background.add(job)
        job.add_done_callback(state.background.discard)


def _warm_tokenizers() -> None:
    for model in ("gpt-4o", "gpt-4"):  # o200k_base and cl100k_base
        tokenizer_for_model(model).count("warm up")


async def _on_shutdown(app: web.Application) -> None:
    app[STATE].shutdown.set()  # releases requests held by the `timeout` fault


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None, option: int = 0) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data, option=option), content_type="application/json",
                        headers=headers)


def _check_key(request: web.Request) -> web.Response | None:
    """With `require_key` set, a 401 like OpenAI's unless the request carries `Authorization: Bearer <key>`."""
    key = request.app[STATE].options.require_key
    if key is None:
        return None
    auth = request.headers.get("Authorization", "")
    if not auth:
        return missing_api_key()
    if not hmac.compare_digest(auth.strip().encode(), f"Bearer {key}".encode()):
        return invalid_api_key()
    return None


async def _prologue(request: web.Request) -> tuple[dict[str, Any], Fault | None] | web.Response:
    """Parse and log the body, check the key, and apply faults that replace the answer entirely.

    Returns (body, fault still to apply while answering) or the response to send instead.
    """
    state = request.app[STATE]
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        body = None
    state.log.record(request.method, request.path, body, request.headers.get("Authorization"))
    denied = _check_key(request)
    if denied is not None:
        return denied
    if not isinstance(body, dict):
        return invalid_request("We could not parse the JSON body of your request. The request body must be a JSON "
                               "object (this is the simulated upstream).")
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    try:
        fault = state.faults.pick(request.headers, metadata, body.get("model"))
    except UnknownFault as exc:
        return invalid_request(str(exc), "metadata", "invalid_value")
    if fault is None:
        return body, None
    if fault.name in faults.STATUS_FAULTS:
        return faults.status_fault_response(fault.name)
    if fault.name == "reset":
        return faults.abort_connection(request, reset=True)
    if fault.name == "timeout":
        return await faults.hang(request, state.options.timeout_fault_seconds, state.shutdown)
    return body, fault


async def _send_body(request: web.Request, data: bytes, headers: dict[str, str], fault: Fault | None
                     ) -> web.StreamResponse:
    """A JSON answer, or the non-streaming form of a stream fault: cut mid-body, or a body that is not JSON."""
    if fault is not None and fault.name == "stream-cut":
        response = web.StreamResponse(headers=headers)
        response.content_type = "application/json"
        response.content_length = len(data)
        await response.prepare(request)
        await response.write(data[: len(data) // 2])
        await asyncio.sleep(0)
        faults.abort_connection(request, reset=False)
        return response
    if fault is not None and fault.name == "malformed-chunk":
        data = data[: len(data) // 2]
    return web.Response(body=data, content_type="application/json", headers=headers)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    prologue = await _prologue(request)
    if isinstance(prologue, web.StreamResponse):
        return prologue
    body, fault = prologue
    stream = body.get("stream") is True
    if body.get("stream_options") is not None and not stream:
        return invalid_request("The 'stream_options' parameter is only allowed when 'stream' is enabled.",
                               "stream_options", "invalid_value")
    await state.replay.ensure_loaded()
    try:
        plan = state.planner.plan(body)
    except RequestError as exc:
        return invalid_request(exc.message, exc.param, exc.code)
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    timing = timing_for(plan.model, state.options, request.headers, metadata,
                        plan.prompt_tokens - plan.cached_tokens)
    completion_id, created = random_id("chatcmpl-"), now()
    headers = {"x-request-id": random_id("req_", 24), "x-sim-replay": plan.replay}
    if stream:
        stream_options = body.get("stream_options") if isinstance(body.get("stream_options"), dict) else {}
        response = web.StreamResponse(headers={**headers, "Cache-Control": "no-cache"})
        response.content_type = "text/event-stream"
        response.charset = "utf-8"
        return await send_stream(request, response, plan, completion_id, created, timing,
                                 bool(stream_options.get("include_usage")), fault)
    wait = timing.total_s(plan.longest_choice_tokens)
    if wait > 0:
        await asyncio.sleep(wait)
    return await _send_body(request, orjson.dumps(completion_body(plan, completion_id, created)), headers, fault)


async def embeddings(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    prologue = await _prologue(request)
    if isinstance(prologue, web.StreamResponse):
        return prologue
    body, fault = prologue
    try:
        model, vectors, tokens = embed(body)
    except RequestError as exc:
        return invalid_request(exc.message, exc.param, exc.code)
    if state.options.latency:
        await asyncio.sleep((EMBEDDING_LATENCY_S + tokens / EMBEDDING_TOKENS_PER_S) / state.options.speed)
    data = orjson.dumps(embedding_body(model, vectors, tokens), option=orjson.OPT_SERIALIZE_NUMPY)
    return await _send_body(request, data, {"x-request-id": random_id("req_", 24)}, fault)


def _model_names(state: SimState) -> list[str]:
    names: dict[str, str] = {}
    for name in (*PROFILE_MODELS, *state.replay.models()):
        names.setdefault(model_key(name), name)
    return list(names.values())


async def list_models(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    state.log.record(request.method, request.path, None, request.headers.get("Authorization"))
    denied = _check_key(request)
    if denied is not None:
        return denied
    await state.replay.ensure_loaded()
    return _json(models_body(_model_names(state)))


async def get_model(request: web.Request) -> web.StreamResponse:
    """Any model name exists here (the simulator serves every model), listed or not."""
    denied = _check_key(request)
    if denied is not None:
        return denied
    name = request.match_info["model"]
    return _json(models_body([name])["data"][0])


async def get_requests(request: web.Request) -> web.StreamResponse:
    """A JSON array of the last requests, newest last (see request_log.py for the entry fields)."""
    return _json(request.app[STATE].log.entries())


async def clear_requests(request: web.Request) -> web.StreamResponse:
    request.app[STATE].log.clear()
    return _json([])


async def health(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    return _json({"status": "ok", "replay_rows": state.replay.rows, "latency": state.options.latency})


async def unknown_route(request: web.Request) -> web.StreamResponse:
    return error_response(404, f"Invalid URL ({request.method} {request.path})", "invalid_request_error")
