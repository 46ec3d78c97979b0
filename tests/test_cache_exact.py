"""The exact cache through the real gateway: hits from memory and from a real Redis shared by two gateways, the
client's cache headers, what is never stored, and requests that keep working while Redis dies and comes back."""

from __future__ import annotations

import asyncio
import shutil
import subprocess

import httpx
import openai
import pytest
import redis

from tests.conftest import free_port
from tests.openapi_schema import validate

QUESTION = [{"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "List three uses of a hash table in compilers."}]
CHAT = {"model": "gpt-4o", "messages": QUESTION, "max_tokens": 60}


async def post(url: str, body: dict, headers: dict | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url + "/chat/completions", json=body, headers=headers)


async def upstream_calls(sim: str) -> int:
    async with httpx.AsyncClient() as http:
        return len((await http.get(sim.removesuffix("/v1") + "/sim/requests")).json())


@pytest.fixture
async def stack(sim_url, gateway_url):
    sim = await sim_url()
    return sim, await gateway_url(sim)


async def test_repeat_is_answered_from_memory_at_no_cost(stack):
    sim, gateway = stack
    first = await post(gateway, CHAT)
    second = await post(gateway, CHAT)
    assert first.headers["x-gateway-cache"] == "miss" and first.headers["x-gateway-route"] == "main"
    assert second.status_code == 200
    assert (second.headers["x-gateway-cache"], second.headers["x-gateway-route"]) == ("exact", "cache")
    assert second.headers["x-gateway-cache-tier"] == "memory"
    assert second.headers["x-gateway-cost-usd"] == "0"
    assert float(second.headers["x-gateway-saved-usd"]) == float(second.headers["x-gateway-baseline-cost-usd"]) > 0
    a, b = first.json(), second.json()
    validate(b, "CreateChatCompletionResponse")
    assert b["choices"][0]["message"] == a["choices"][0]["message"] and b["id"] != a["id"]
    assert b["usage"]["prompt_tokens_details"]["cached_tokens"] == a["usage"]["prompt_tokens"]
    assert await upstream_calls(sim) == 1
    async with httpx.AsyncClient() as http:
        stats = (await http.get(gateway + "/gateway/stats")).json()
        metrics = (await http.get(gateway.removesuffix("/v1") + "/metrics")).text
    assert stats["total"]["saved_by"]["exact_cache"] == pytest.approx(float(second.headers["x-gateway-saved-usd"]))
    assert 'gateway_cache_hits_total{kind="exact",tier="memory"} 1' in metrics
    assert "gateway_cache_misses_total 1" in metrics and 'gateway_cache_lookup_seconds_bucket{le="+Inf"} 2' in metrics


async def test_answer_shaping_fields_are_part_of_the_key(stack):
    sim, gateway = stack
    await post(gateway, CHAT)
    for change in ({"max_tokens": 61}, {"seed": 7}, {"response_format": {"type": "json_object"}},
                   {"messages": QUESTION[1:]}, {"model": "gpt-4o-mini"}):
        response = await post(gateway, {**CHAT, **change})
        assert response.headers["x-gateway-cache"] == "miss", change
    # Delivery-only fields do not change the answer, so they share the entry.
    again = await post(gateway, {**CHAT, "user": "someone-else", "metadata": {"run": "2"}})
    assert again.headers["x-gateway-cache"] == "exact"
    assert await upstream_calls(sim) == 6


async def test_stream_is_stored_and_replayed_as_a_valid_stream(stack):
    sim, gateway = stack
    client = openai.AsyncOpenAI(base_url=gateway, api_key="unused")
    live = [chunk async for chunk in await client.chat.completions.create(**CHAT, stream=True)]
    live_text = "".join(c.choices[0].delta.content or "" for c in live if c.choices)
    raw = await client.chat.completions.with_raw_response.create(**CHAT, stream=True,
                                                                 stream_options={"include_usage": True},
                                                                 extra_headers={"x-request-id": "replayed-1"})
    assert raw.headers["x-gateway-cache"] == "exact" and raw.headers["x-request-id"] == "replayed-1"
    chunks = [chunk async for chunk in raw.parse()]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == live_text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == live[-1].choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens > 0
    assert len({c.id for c in chunks}) == 1
    whole = await client.chat.completions.create(**CHAT)  # a non-streamed request, served from the streamed answer
    assert whole.choices[0].message.content == live_text
    assert await upstream_calls(sim) == 1


async def test_client_cache_directives(stack):
    sim, gateway = stack
    await post(gateway, CHAT, {"x-gateway-cache": "no-store"})
    assert (await post(gateway, CHAT, {"x-gateway-cache": "no-cache"})).headers["x-gateway-cache"] == "miss"
    assert (await post(gateway, CHAT)).headers["x-gateway-cache"] == "miss"     # neither of the first two stored
    assert (await post(gateway, CHAT, {"x-gateway-cache": "no-store"})).headers["x-gateway-cache"] == "exact"
    assert (await post(gateway, CHAT, {"x-gateway-cache": "refresh"})).headers["x-gateway-cache"] == "miss"
    assert await upstream_calls(sim) == 4
    zero_ttl = {**CHAT, "max_tokens": 33}
    await post(gateway, zero_ttl, {"x-gateway-cache-ttl": "0"})
    assert (await post(gateway, zero_ttl)).headers["x-gateway-cache"] == "miss"
    bad = await post(gateway, CHAT, {"x-gateway-cache": "sometimes"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-gateway-cache"
    bad = await post(gateway, CHAT, {"x-gateway-cache-ttl": "-5"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "x-gateway-cache-ttl"


@pytest.mark.parametrize("variety", [{"temperature": 1.5}, {"n": 2}])
async def test_requests_for_variety_are_not_cached(stack, variety):
    sim, gateway = stack
    await post(gateway, {**CHAT, **variety})
    assert (await post(gateway, {**CHAT, **variety})).headers["x-gateway-cache"] == "miss"
    assert await upstream_calls(sim) == 2


async def test_cut_stream_and_errors_are_never_stored(stack):
    sim, gateway = stack
    cut = {**CHAT, "stream": True, "metadata": {"sim_fault": "stream-cut", "sim_fault_after": "2"}}
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(gateway + "/chat/completions", json=cut)
    assert response.status_code == 200 and b'"delta"' in response.content      # the stream started ...
    assert b"[DONE]" not in response.content and b'"error"' in response.content  # ... and was cut
    failed = await post(gateway, {**CHAT, "metadata": {"sim_fault": "500"}})
    assert failed.status_code >= 500
    assert (await post(gateway, CHAT)).headers["x-gateway-cache"] == "miss"
    assert (await post(gateway, CHAT)).headers["x-gateway-cache"] == "exact"


async def test_tenants_do_not_share_entries(sim_url, gateway_url):
    config = """
auth:
  keys:
    - {key: key-a, name: a, tenant: acme}
    - {key: key-b, name: b, tenant: globex}
    - {key: key-a2, name: a2, tenant: acme}
"""
    gateway = await gateway_url(await sim_url(), config)
    assert (await post(gateway, CHAT, {"Authorization": "Bearer key-a"})).headers["x-gateway-cache"] == "miss"
    assert (await post(gateway, CHAT, {"Authorization": "Bearer key-b"})).headers["x-gateway-cache"] == "miss"
    assert (await post(gateway, CHAT, {"Authorization": "Bearer key-a2"})).headers["x-gateway-cache"] == "exact"


async def test_two_gateways_share_entries_through_redis(sim_url, gateway_url, redis_url, redis_prefix):
    sim = await sim_url()
    config = f"redis_url: {redis_url}\ncache: {{redis_prefix: {redis_prefix}, redis_timeout_ms: 1000}}\n"
    one, two = await gateway_url(sim, config), await gateway_url(sim, config)
    assert (await post(one, CHAT)).headers["x-gateway-cache"] == "miss"
    await asyncio.sleep(0.2)  # the shared tier is written in the background
    shared = await post(two, CHAT)
    assert (shared.headers["x-gateway-cache"], shared.headers["x-gateway-cache-tier"]) == ("exact", "redis")
    local = await post(two, CHAT)
    assert local.headers["x-gateway-cache-tier"] == "memory"
    assert await upstream_calls(sim) == 1
    assert redis.Redis.from_url(redis_url).ttl(f"{redis_prefix}:exact:" + _only_key(redis_url, redis_prefix)) > 3000


def _only_key(url: str, prefix: str) -> str:
    keys = list(redis.Redis.from_url(url).scan_iter(f"{prefix}:exact:*"))
    assert len(keys) == 1
    return keys[0].decode().rsplit(":", 1)[1]


@pytest.fixture
def own_redis():
    """A redis-server of this test's own, which it may kill (the shared one is never touched)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]

    def start() -> subprocess.Popen:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(100):
            try:
                redis.Redis(port=port, socket_connect_timeout=0.2).ping()
                return process
            except redis.ConnectionError:
                subprocess.run(["sleep", "0.05"])
        raise RuntimeError("redis-server did not start")

    servers = [start()]
    yield {"url": f"redis://127.0.0.1:{port}/0", "kill": lambda: servers[-1].kill(),
           "restart": lambda: servers.append(start())}
    for process in servers:
        process.kill()
        process.wait()


async def test_killing_redis_loses_no_request(sim_url, gateway_url, own_redis):
    gateway = await gateway_url(await sim_url(), f"redis_url: {own_redis['url']}\n")
    bodies = [{**CHAT, "max_tokens": 40 + i} for i in range(30)]
    results = []
    for index, body in enumerate(bodies):
        if index == 10:
            own_redis["kill"]()
        if index == 20:
            own_redis["restart"]()
        results.append(await post(gateway, body))
        if index == 15:
            async with httpx.AsyncClient() as http:
                ready = (await http.get(gateway.removesuffix("/v1") + "/readyz")).json()
            assert ready["status"] == "degraded" and ready["redis"] == "unreachable"
    assert [r.status_code for r in results] == [200] * 30
    assert (await post(gateway, bodies[12])).headers["x-gateway-cache"] == "exact"   # memory kept serving
    await asyncio.sleep(0.6)  # past the link's pause: the next call reconnects
    async with httpx.AsyncClient() as http:
        ready = (await http.get(gateway.removesuffix("/v1") + "/readyz")).json()
    assert ready["redis"] == "ok" and ready["cache"]["redis"] == "ok"
    await post(gateway, {**CHAT, "max_tokens": 99})
    await asyncio.sleep(0.2)
    assert list(redis.Redis.from_url(own_redis["url"]).scan_iter("gateway:exact:*")), "writes resumed"


async def test_evaluate_reports_a_cached_answer_without_counting_it(stack):
    sim, gateway = stack
    async with httpx.AsyncClient() as http:
        before = (await http.post(gateway + "/gateway/evaluate", json=CHAT)).json()
        await post(gateway, CHAT)
        after = (await http.post(gateway + "/gateway/evaluate", json=CHAT)).json()
        metrics = (await http.get(gateway.removesuffix("/v1") + "/metrics")).text
    assert before["cache"]["hit"] is None and before["cache"]["exact"] is True and before["decision"] == "main_session"
    assert (after["decision"], after["cache"]["hit"], after["estimated_cost_usd"]) == ("cache", "exact", 0.0)
    assert "gateway_cache_hits_total{" not in metrics


async def test_a_split_answer_is_cached_whole(sim_url, gateway_url):
    sim = await sim_url()
    gateway = await gateway_url(sim, "policies:\n  default: default\n", environ={"OPENAI_API_KEY": "sk-test"},
                                policy=None)
    questions = {"model": "gpt-4o", "messages": [{"role": "user", "content": (
        "Answer these questions:\n1. What is the capital of France?\n2. Who wrote Hamlet?\n"
        "3. How far is the Moon from Earth?\n4. Why is the sky blue?")}]}
    first = await post(gateway, questions)
    assert first.headers["x-gateway-route"] == "split:4"
    calls = await upstream_calls(sim)
    second = await post(gateway, questions)
    assert (second.headers["x-gateway-route"], second.headers["x-gateway-cache"]) == ("cache", "exact")
    assert second.json()["choices"][0]["message"] == first.json()["choices"][0]["message"]
    assert second.headers["x-gateway-model"] == first.headers["x-gateway-model"]
    assert await upstream_calls(sim) == calls


async def test_replicas_sharing_redis_report_totals_that_add_up(sim_url, gateway_url, redis_url, redis_prefix):
    """Stats are per replica (documented): summed over the replicas they must match what the clients were told."""
    sim = await sim_url()
    config = f"redis_url: {redis_url}\ncache: {{redis_prefix: {redis_prefix}, redis_timeout_ms: 1000}}\n"
    replicas = [await gateway_url(sim, config), await gateway_url(sim, config)]
    told = {"requests": 0, "cost": 0.0, "baseline": 0.0, "saved": 0.0}
    for index in range(12):
        body = {**CHAT, "max_tokens": 50 + index % 4}          # every fourth request repeats an earlier one
        response = await post(replicas[index % 2], body)
        await asyncio.sleep(0.05)                               # the shared tier is written in the background
        told["requests"] += 1
        told["cost"] += float(response.headers["x-gateway-cost-usd"])
        told["baseline"] += float(response.headers["x-gateway-baseline-cost-usd"])
        told["saved"] += float(response.headers["x-gateway-saved-usd"])
    async with httpx.AsyncClient() as http:
        totals = [(await http.get(url + "/gateway/stats")).json()["total"] for url in replicas]
    assert sum(t["requests"] for t in totals) == told["requests"] and all(t["requests"] == 6 for t in totals)
    assert sum(t["cost_usd"] for t in totals) == pytest.approx(told["cost"], rel=1e-6, abs=1e-9)
    assert sum(t["baseline_cost_usd"] for t in totals) == pytest.approx(told["baseline"], rel=1e-6, abs=1e-9)
    assert sum(t["saved_usd"] for t in totals) == pytest.approx(told["saved"], rel=1e-6, abs=1e-9)
    assert await upstream_calls(sim) == 4                       # four distinct requests; the rest were hits
