"""The HTTP side of splitting: run the workers of a `split` decision and answer as one model would have.

Non-streamed, the parts are awaited in order and merged into one chat.completion. Streamed, the first part streams
live as its worker writes it; later parts run meanwhile, are buffered, and are flushed in order as soon as their turn
comes; then one finish chunk, the usage chunk if the client asked for it, the cost comment and `[DONE]`.

Failures: a part's worker is retried, then the part runs on the requested model (workers.py). If a part still fails,
the request falls back to the main session as asked, provided nothing was sent yet (always, when not streamed);
once a stream has started, the client gets an error event instead of an answer with a part missing.

Accounting: paid is each call priced on the model that made it. The baseline is the request as asked, priced on the
requested model: the whole prompt as the gateway counted it (system, history and the whole turn, once) plus the real
completion tokens the workers wrote (what the one answer would have needed at least; we cannot know better, and an
estimate would let the gateway flatter itself). The difference is attributed to `splitting`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Sequence

from aiohttp import web

from gateway.accounting.cost import Usage, cost_usd
from gateway.accounting.outcome import Outcome
from gateway.cache.ticket import CacheTicket
from gateway.decision.engine import Decision
from gateway.decision.plan import plan_request
from gateway.orchestrator.merger import (ChunkWriter, completion, finish_reason, integration_ok, merged_text,
                                         part_text, summed_usage)
from gateway.orchestrator.split_plan import SplitPlan
from gateway.orchestrator.workers import PartAnswer, PartFailed, Target, WorkerPool, cancel_all, forwarded
from gateway.server.errors import upstream_error
from gateway.server.ingress import upstream_api_key
from gateway.server.sse import DONE, comment_event, error_event
from gateway.server.state import GatewayState
from gateway.server.stream_relay import COST_COMMENT, estimate_headers, open_client_stream

if TYPE_CHECKING:
    from gateway.server.chat import DecidedRequest

INTEGRATION_NOTE = ("The answer below was assembled from parts written separately. Rewrite it as one coherent answer: "
                    "keep every part, in the same order, with the same numbering and labels; smooth the transitions; "
                    "add nothing else.\n\n")


async def respond_split(http_request: web.Request, state: GatewayState, decided: "DecidedRequest",
                        ticket: CacheTicket) -> web.StreamResponse:
    """Answer a request the decision split (`decision.choice.kind == "split"`); a complete merged answer is stored
    under the ticket like any other."""
    plan = decided.decision.choice.split
    assert plan is not None, "a split choice carries its plan"
    pool = WorkerPool(state.upstream, state.ledger.split, _attempts(state, decided), forwarded(decided.request.body),
                      decided.decision.match.actions.split.max_workers)
    if decided.request.stream:
        return await _stream(http_request, state, decided, plan, pool, ticket)
    return await _complete(http_request, state, decided, plan, pool, ticket)


def _attempts(state: GatewayState, decided: "DecidedRequest") -> tuple[Target, ...]:
    """Worker model twice (a retry), then the requested model."""
    def target(model):
        provider = state.settings.provider_for(model)
        return Target(model, provider, upstream_api_key(provider, decided.client))
    worker = target(decided.decision.choice.model)
    return worker, worker, target(decided.decision.requested)


async def _complete(http_request: web.Request, state: GatewayState, decided: "DecidedRequest", plan: SplitPlan,
                    pool: WorkerPool, ticket: CacheTicket) -> web.StreamResponse:
    tasks = pool.start(plan)
    try:  # a client that leaves cancels this handler (handler_cancellation), and with it every worker
        answers = [await task for task in tasks]
    except PartFailed:
        return await _main_session(http_request, state, decided, ticket)
    finally:
        cancel_all(tasks, state.ledger.split)
    if not _integrated(state, plan, answers):
        return await _main_session(http_request, state, decided, ticket)
    text, extra = merged_text(plan, answers), []
    if decided.decision.match.actions.split.integration == "call":
        text, extra = await _integrate(pool, plan, text, answers)
    usage = summed_usage([a.usage for a in answers] + [a.usage for a in extra])
    outcome = _record(state, decided, plan, answers + extra, usage)
    body = completion(decided.request.model, text, finish_reason(answers), usage)
    await state.cache.store(ticket, body, ",".join(outcome.models))
    return web.json_response(body, headers=outcome.headers())


async def _stream(http_request: web.Request, state: GatewayState, decided: "DecidedRequest", plan: SplitPlan,
                  pool: WorkerPool, ticket: CacheTicket) -> web.StreamResponse:
    out = _LazyStream(http_request, estimate_headers(_estimate(decided)),
                      ChunkWriter(decided.request.model, decided.request.include_usage))
    first = plan.parts[0].heading

    async def live(text: str) -> None:
        await out.text(text if out.opened else (f"{first}\n\n{text}" if first else text))

    tasks = pool.start(plan, live)
    answers: list[PartAnswer] = []
    try:
        for task in tasks:
            answer = await task
            await out.text((plan.separator + part_text(plan, answer)) if answer.index else "")
            answers.append(answer)
    except PartFailed as failure:
        if not out.opened:
            return await _main_session(http_request, state, decided, ticket)
        state.ledger.split.integration_failure += 1
        state.ledger.failed_requests += 1
        return await out.fail(f"part {failure.index + 1} of the answer could not be produced")
    except ConnectionError:
        state.ledger.failed_requests += 1
        return out.response or web.StreamResponse()
    finally:
        cancel_all(tasks, state.ledger.split)
    _integrated(state, plan, answers)
    usage = summed_usage([answer.usage for answer in answers])
    outcome = _record(state, decided, plan, answers, usage)
    response = await out.finish(finish_reason(answers), usage, outcome)
    await state.cache.store(ticket, completion(decided.request.model, merged_text(plan, answers),
                                               finish_reason(answers), usage), ",".join(outcome.models))
    return response


def _integrated(state: GatewayState, plan: SplitPlan, answers: Sequence[PartAnswer]) -> bool:
    ok = integration_ok(plan, answers)
    if ok:
        state.ledger.split.integration_success += 1
    else:
        state.ledger.split.integration_failure += 1
    return ok


async def _integrate(pool: WorkerPool, plan: SplitPlan, text: str,
                     answers: list[PartAnswer]) -> tuple[str, list[PartAnswer]]:
    """The policy's optional smoothing call; if it fails, the concatenation stands (it is already a full answer)."""
    system = [m for m in plan.parts[0].messages[:-1]]
    part = replace(plan.parts[0], messages=system + [{"role": "user", "content": INTEGRATION_NOTE + text}])
    try:
        smoothed = await pool.answer(part)
    except PartFailed:
        return text, []
    return smoothed.content, [smoothed]


async def _main_session(http_request: web.Request, state: GatewayState, decided: "DecidedRequest",
                        ticket: CacheTicket) -> web.StreamResponse:
    """The request as asked, when a part could not be answered: the chat path's own execution, unchanged."""
    from gateway.server import chat  # the chat path imports this module; the fallback reuses its execution

    state.ledger.split.main_session_fallbacks += 1
    decision: Decision = replace(decided.decision, choice=decided.decision.baseline)
    request = decided.request
    plan = plan_request(request, decided.raw_body, state.settings, decision)
    api_key = upstream_api_key(plan.provider, decided.client)
    ticket = chat.cache_ticket(http_request, state, decided, plan, api_key) if ticket.used else ticket
    if request.stream:
        return await chat._stream(http_request, state, request, decision, plan, decided.caller, api_key, ticket)
    return await chat._complete(state, request, plan, decided.caller, api_key, ticket)


def _record(state: GatewayState, decided: "DecidedRequest", plan: SplitPlan, calls: Sequence[PartAnswer],
            usage: Usage) -> Outcome:
    """Account for the split answer (see the module docstring for the baseline)."""
    decision = decided.decision
    paid = sum(cost_usd(call.model, call.usage) for call in calls)
    answers = calls[:plan.size]
    executed = plan_request(decided.request, decided.raw_body, state.settings, decision)
    asked = Usage(executed.baseline_prompt_tokens, sum(a.usage.completion_tokens for a in answers),
                  decision.baseline_cached_tokens, usage.estimated)
    baseline = cost_usd(decision.requested, asked)
    models = tuple(dict.fromkeys(call.model.name for call in calls))
    outcome = Outcome(f"split:{plan.size}", models, "miss", usage, paid, baseline, {"splitting": baseline - paid},
                      decision.match.rule_name)
    state.record(outcome, executed, decided.caller, decided.request)
    return outcome


def _estimate(decided: "DecidedRequest") -> Outcome:
    """The decision's estimate of the split, for the stream headers (they leave before any worker answers)."""
    choice, baseline = decided.decision.choice, decided.decision.baseline
    return Outcome(f"split:{choice.workers}", (choice.model.name,), "miss",
                   Usage(choice.prompt_tokens, choice.output_tokens, 0, True), choice.cost_usd, baseline.cost_usd, {},
                   decided.decision.match.rule_name)


class _LazyStream:
    """The client stream, opened on the first text (until then a failed split can still fall back)."""

    def __init__(self, http_request: web.Request, headers: dict[str, str], chunks: ChunkWriter) -> None:
        self.http_request, self.headers, self.chunks = http_request, headers, chunks
        self.response: web.StreamResponse | None = None

    @property
    def opened(self) -> bool:
        return self.response is not None

    async def text(self, text: str) -> None:
        if not text:
            return
        if self.response is None:
            self.response = await open_client_stream(self.http_request, self.headers)
            await self.response.write(self.chunks.role())
        await self.response.write(self.chunks.content(text))

    async def finish(self, reason: str, usage: Usage, outcome: Outcome) -> web.StreamResponse:
        assert self.response is not None
        await _quietly(self.response, self.chunks.finish(reason) + self.chunks.usage(usage)
                       + comment_event(COST_COMMENT, outcome.summary()) + DONE)
        return self.response

    async def fail(self, message: str) -> web.StreamResponse:
        assert self.response is not None
        error = upstream_error(502, f"The split answer is incomplete: {message}.", "split_incomplete")
        await _quietly(self.response, error_event(error.body()))
        return self.response


async def _quietly(response: web.StreamResponse, data: bytes) -> None:
    try:
        await response.write(data)
    except ConnectionError:
        pass
