"""Byte-level checks of the gateway's SSE: OpenAI's framing exactly, usage only when asked, exact final costs."""

from __future__ import annotations

import json
from decimal import Decimal

import httpx
import pytest

from gateway.server.stream_relay import COST_COMMENT
from tests.openapi_schema import validate
from tests.test_gateway_sdk import CATALOG, MESSAGES


@pytest.fixture
async def gateway(sim_url, gateway_url):
    return await gateway_url(await sim_url())


async def raw_stream(url: str, body: dict) -> tuple[httpx.Response, bytes]:
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("POST", url + "/chat/completions", json=body) as response:
            return response, b"".join([piece async for piece in response.aiter_raw()])


def data_events(raw: bytes) -> list[bytes]:
    assert raw.endswith(b"\n\n"), raw[-80:]
    events = raw[:-2].split(b"\n\n")
    return [event for event in events if not event.startswith(b":")]


async def test_framing_ids_and_usage_chunk(gateway):
    body = {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    response, raw = await raw_stream(gateway, body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = data_events(raw)
    assert events[-1] == b"data: [DONE]"
    chunks = [json.loads(event.removeprefix(b"data: ")) for event in events[:-1]]
    assert all(event.startswith(b"data: {") for event in events[:-1])
    assert len({(chunk["id"], chunk["created"]) for chunk in chunks}) == 1
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["total_tokens"] > 0
    assert all("usage" in chunk and chunk["usage"] is None for chunk in chunks[:-1])


async def test_usage_chunk_is_not_added_when_the_client_did_not_ask(gateway):
    response, raw = await raw_stream(gateway, {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True})
    chunks = [json.loads(event.removeprefix(b"data: ")) for event in data_events(raw)[:-1]]
    assert chunks and all(chunk["choices"] for chunk in chunks)
    assert all("usage" not in chunk for chunk in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


async def test_final_cost_comment_is_exact_and_headers_hold_the_decision_estimate(gateway):
    body = {"model": "gpt-4o", "messages": MESSAGES, "stream": True, "stream_options": {"include_usage": True}}
    async with httpx.AsyncClient() as http:  # before the stream: each answer updates the expected-length model
        evaluated = (await http.post(gateway + "/gateway/evaluate", json=body)).json()
    response, raw = await raw_stream(gateway, body)
    comment = next(event for event in raw.split(b"\n\n") if event.startswith(b": " + COST_COMMENT.encode()))
    summary = json.loads(comment.split(b" ", 2)[2])
    usage = json.loads(data_events(raw)[-2].removeprefix(b"data: "))["usage"]
    spec = CATALOG.find_model("gpt-4o")
    exact = (Decimal(usage["prompt_tokens"]) * Decimal("2.5") + Decimal(usage["completion_tokens"]) * 10) / 10 ** 6
    assert Decimal(str(summary["cost_usd"])) == exact
    assert (summary["prompt_tokens"], summary["completion_tokens"]) == (usage["prompt_tokens"],
                                                                       usage["completion_tokens"])
    assert response.headers["x-gateway-cost-basis"] == "estimate"
    assert Decimal(response.headers["x-gateway-cost-usd"]) == Decimal(str(evaluated["estimated_cost_usd"]))
    prompt = evaluated["options"][0]["prompt_tokens"]
    assert prompt == usage["prompt_tokens"]                           # the analyzer counts as the upstream bills
    assert Decimal(str(evaluated["estimated_cost_usd"])) == pytest.approx(
        Decimal(prompt) * Decimal(str(spec.input_per_million)) / 10 ** 6
        + Decimal(evaluated["options"][0]["output_tokens"]) * Decimal(str(spec.output_per_million)) / 10 ** 6)
    assert response.headers["x-request-id"] and response.headers["x-gateway-route"] == "main"


async def test_stream_is_forwarded_as_it_arrives_not_buffered(sim_url, gateway_url):
    """With a slow simulated model, the first chunk reaches the client long before the last one is generated."""
    import time

    gateway = await gateway_url(await sim_url(latency=True))
    body = {"model": "gpt-4o", "messages": MESSAGES, "stream": True, "max_tokens": 40}
    async with httpx.AsyncClient(timeout=20) as http:
        async with http.stream("POST", gateway + "/chat/completions", json=body) as response:
            start = time.monotonic()
            arrivals = [time.monotonic() - start async for _ in response.aiter_raw()]
    assert len(arrivals) > 5
    # A large model's profile streams a few dozen tokens per second: 40 tokens arrive spread over about a second.
    assert arrivals[-1] - arrivals[0] > 0.4


async def test_usage_is_counted_when_the_upstream_reports_none(aiohttp_server, gateway_url):
    """Some OpenAI-compatible servers ignore stream_options and never send usage: the gateway counts it."""
    from aiohttp import web

    chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o-mini",
             "choices": [{"index": 0, "delta": {"content": "Hello there, friend."}, "finish_reason": None}]}

    async def no_usage(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(b"data: " + json.dumps(chunk).encode() + b"\n\ndata: [DONE]\n\n")
        return response

    upstream = web.Application()
    upstream.router.add_post("/v1/chat/completions", no_usage)
    server = await aiohttp_server(upstream)
    gateway = await gateway_url(str(server.make_url("/v1")))
    response, raw = await raw_stream(gateway, {"model": "gpt-4o-mini", "messages": MESSAGES, "stream": True})
    comment = next(event for event in raw.split(b"\n\n") if event.startswith(b": " + COST_COMMENT.encode()))
    summary = json.loads(comment.split(b" ", 2)[2])
    from gateway.accounting.tokens import counter_for_model
    counter = counter_for_model("gpt-4o-mini")
    assert summary["usage_estimated"] is True
    assert summary["completion_tokens"] == counter.count("Hello there, friend.")
    assert summary["prompt_tokens"] == counter.count_messages(MESSAGES)
    assert data_events(raw)[-1] == b"data: [DONE]"
