"""Retries through the real gateway and simulator: transient upstream failures never reach the client, failures
that will repeat are not retried, and a client whose request failed for good is told not to retry on its own."""

from __future__ import annotations

import random

import httpx
import openai
import pytest

from gateway.server.errors import APIError, upstream_error
from gateway.upstream.breaker import CircuitBreaker
from gateway.upstream.retry import RetryPolicy, backoff_s, retryable

CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Name a prime number."}], "max_tokens": 20}
NO_CACHE = {"x-gateway-cache": "no-cache"}


@pytest.fixture
async def stack(sim_url, gateway_url):
    sim = await sim_url()
    return sim, await gateway_url(sim)


async def chat_calls(sim: str) -> int:
    async with httpx.AsyncClient() as http:
        log = (await http.get(sim.removesuffix("/v1") + "/sim/requests")).json()
    return sum(1 for entry in log if entry["method"] == "POST")


@pytest.mark.parametrize("fault", ["500", "503", "reset"])
async def test_transient_failures_are_retried_invisibly(stack, fault):
    sim, gateway = stack
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(gateway + "/chat/completions", headers=NO_CACHE,
                                   json={**CHAT, "metadata": {"sim_fault": fault, "sim_fault_first": "2"}})
        metrics = (await http.get(gateway.removesuffix("/v1") + "/metrics")).text
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"]
    assert await chat_calls(sim) == 3
    assert "gateway_upstream_retries_total{" in metrics


async def test_a_stream_is_retried_before_its_first_byte(stack):
    sim, gateway = stack
    client = openai.AsyncOpenAI(base_url=gateway, api_key="k", max_retries=0)
    stream = await client.chat.completions.create(**CHAT, stream=True, extra_headers=NO_CACHE,
                                                  metadata={"sim_fault": "503", "sim_fault_first": "1"})
    text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text and await chat_calls(sim) == 2


async def test_rate_limit_waits_for_the_upstreams_retry_after(stack):
    sim, gateway = stack
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(gateway + "/chat/completions", headers=NO_CACHE,
                                   json={**CHAT, "metadata": {"sim_fault": "429", "sim_fault_first": "1"}})
    assert response.status_code == 200 and await chat_calls(sim) == 2


async def test_spent_retries_tell_the_sdk_not_to_retry(stack):
    sim, gateway = stack
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.post(gateway + "/chat/completions", headers=NO_CACHE,
                                   json={**CHAT, "metadata": {"sim_fault": "500"}})
    assert response.status_code == 502 and response.headers["x-should-retry"] == "false"
    assert response.json()["error"]["code"] == "upstream_server_error"
    assert await chat_calls(sim) == 3  # the first call and two retries (providers.*.max_retries)


def test_only_failures_that_may_pass_are_retried_and_hints_are_honoured():
    assert not retryable(APIError(400, "bad", code="invalid_value"))
    assert not retryable(upstream_error(502, "creds", "upstream_auth_failed"))
    assert retryable(APIError(429, "slow down")) and retryable(upstream_error(504, "t", "upstream_timeout"))
    policy, rng = RetryPolicy(), random.Random(1)
    assert backoff_s(1, APIError(429, "x", headers={"retry-after-ms": "250"}), policy, rng) == 0.25
    assert backoff_s(1, APIError(429, "x", headers={"retry-after": "60"}), policy, rng) is None  # too long to hold
    delays = [backoff_s(n, upstream_error(502, "x", "upstream_server_error"), policy, rng) for n in (1, 2, 3, 9)]
    assert all(0 <= d <= min(policy.max_delay_s, policy.base_delay_s * 2 ** (n - 1))
               for d, n in zip(delays, (1, 2, 3, 9)))


FALLBACK_POLICY = """
name: with-fallback
description: As asked, with a cheaper model to fall back on when the asked one fails.
defaults:
  route: as_requested
  fallbacks: [gpt-4o-mini]
  cache: {exact: true, semantic: false}
  split: {allowed: false}
"""


@pytest.mark.parametrize("stream", [False, True])
async def test_a_failing_model_falls_back_to_the_policys_next(sim_url, gateway_url, tmp_path, stream):
    policy = tmp_path / "fallback.yaml"
    policy.write_text(FALLBACK_POLICY)
    sim = await sim_url()
    gateway = await gateway_url(sim, f"policies:\n  paths: [{policy}]\n  default: with-fallback\n")
    client = openai.AsyncOpenAI(base_url=gateway, api_key="k", max_retries=0)
    down = {"sim_fault": "500", "sim_fault_model": "gpt-4o"}  # only calls to gpt-4o fail
    raw = await client.chat.completions.with_raw_response.create(**CHAT, stream=stream, metadata=down)
    assert raw.headers["x-gateway-model"] == "gpt-4o-mini" and raw.headers["x-gateway-route"] == "routed"
    if stream:
        assert "".join([c.choices[0].delta.content or "" async for c in raw.parse() if c.choices])
    else:
        assert raw.parse().choices[0].message.content
    assert await chat_calls(sim) == 4   # gpt-4o three times (two retries), then gpt-4o-mini
    async with httpx.AsyncClient() as http:
        assert (await http.get(gateway + "/gateway/stats")).json()["fallbacks"] == 1


def test_breaker_opens_after_consecutive_failures_then_probes():
    now = [0.0]
    breaker = CircuitBreaker(failures_to_open=3, cooldown_s=5, clock=lambda: now[0])
    for _ in range(3):
        assert breaker.allow()
        breaker.record(False)
    assert breaker.state == "open" and not breaker.allow()
    now[0] = 5.0
    assert breaker.allow() and breaker.state == "half_open" and not breaker.allow()   # one probe at a time
    breaker.record(False)                                                             # the probe failed
    now[0] = 14.0
    assert not breaker.allow()                                                        # cooldown doubled to 10 s
    now[0] = 15.0
    assert breaker.allow()
    breaker.record(True)
    assert breaker.state == "closed" and breaker.allow() and breaker.opened == 2


async def test_an_open_circuit_fails_fast_and_the_fallback_answers(sim_url, gateway_url, tmp_path):
    policy = tmp_path / "fallback.yaml"
    policy.write_text(FALLBACK_POLICY)
    sim = await sim_url()
    gateway = await gateway_url(sim, f"policies:\n  paths: [{policy}]\n  default: with-fallback\n")
    down = {**CHAT, "metadata": {"sim_fault": "500", "sim_fault_model": "gpt-4o"}}
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(2):      # 3 failed calls each: the breaker opens at the fifth
            assert (await http.post(gateway + "/chat/completions", json=down, headers=NO_CACHE)).status_code == 200
        calls = await chat_calls(sim)
        third = await http.post(gateway + "/chat/completions", json=down, headers=NO_CACHE)
        ready = (await http.get(gateway.removesuffix("/v1") + "/readyz")).json()
        metrics = (await http.get(gateway.removesuffix("/v1") + "/metrics")).text
    assert third.status_code == 200 and third.headers["x-gateway-model"] == "gpt-4o-mini"
    assert await chat_calls(sim) == calls + 1          # gpt-4o was not called at all: straight to the fallback
    assert ready["open_circuits"] == {"openai/gpt-4o": "open"}
    assert 'gateway_upstream_circuit_open{upstream="openai/gpt-4o"} 1' in metrics


async def test_when_every_circuit_is_open_the_model_is_called_anyway(sim_url, gateway_url, tmp_path):
    policy = tmp_path / "fallback.yaml"
    policy.write_text(FALLBACK_POLICY)
    sim = await sim_url()
    gateway = await gateway_url(sim, f"policies:\n  paths: [{policy}]\n  default: with-fallback\n")
    async with httpx.AsyncClient(timeout=10) as http:
        for _ in range(2):  # every call fails: both models' circuits open
            failed = await http.post(gateway + "/chat/completions", headers=NO_CACHE,
                                     json={**CHAT, "metadata": {"sim_fault": "500"}})
            assert failed.status_code == 502
        ready = (await http.get(gateway.removesuffix("/v1") + "/readyz")).json()
        assert ready["open_circuits"] == {"openai/gpt-4o": "open", "openai/gpt-4o-mini": "open"}
        healthy_again = await http.post(gateway + "/chat/completions", json=CHAT, headers=NO_CACHE)
    assert healthy_again.status_code == 200 and healthy_again.headers["x-gateway-model"] == "gpt-4o"
