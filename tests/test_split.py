"""Splitting end to end: detection, workers over the real simulator, and the real openai SDK on the merged answer."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import httpx
import openai
import pytest

from gateway.accounting.tokens import counter_for_encoding
from gateway.analysis import analyze
from tests.conftest import REPO

COUNTER = counter_for_encoding("o200k_base")
QUESTIONS = ("Answer these questions:\n1. What is the capital of France?\n2. Who wrote Hamlet?\n"
             "3. How far is the Moon from Earth?\n4. Why is the sky blue?")
MESSAGES = [{"role": "system", "content": "You are a concise assistant."}, {"role": "user", "content": QUESTIONS}]
CONFIG = "policies:\n  default: default\n"
ENV = {"OPENAI_API_KEY": "sk-test"}


def shape(text: str):
    return analyze([{"role": "user", "content": text}], None, COUNTER).split


@pytest.mark.parametrize("text, n, kind", [
    (QUESTIONS, 4, "items"),
    ("Give me 5 slogans for a bakery named Sunrise.", 5, "count"),
    ("For each of Python, Rust and Go, list the main strengths.", 3, "items"),
])
def test_detects_independent_subtasks(text, n, kind):
    found = shape(text)
    assert found is not None and found.n == n and found.kind == kind and found.confidence >= 0.7


@pytest.mark.parametrize("text", [
    "First, find the population of France, then use it to compute its population density.",
    "Write a python function to generate 6 random numbers between 1 and 100.",
    "What is the capital of France, and why did it become the capital?",
    "Steps:\n1. Preheat the oven.\n2. Mix the flour and the eggs.\n3. Bake it for 20 minutes.",
    "Generate 20 unique math quizzes where no two share an answer.",
])
def test_conservative_negatives_stay_whole(text):
    assert shape(text) is None


def test_turn_that_depends_on_the_conversation_stays_whole():
    messages = [{"role": "user", "content": "Tell me about the French Revolution."},
                {"role": "assistant", "content": "The French Revolution began in 1789 ..."},
                {"role": "user", "content": "About that:\n1. Why did it start?\n2. How did it end?"}]
    assert analyze(messages, None, COUNTER).split is None


async def _metrics(base: str) -> str:
    async with httpx.AsyncClient() as client:
        return (await client.get(base.removesuffix("/v1") + "/metrics")).text


async def _client(sim_url, gateway_url, **sim):
    upstream = await sim_url(**sim)
    base = await gateway_url(upstream, CONFIG, environ=ENV, policy=None)
    return openai.AsyncOpenAI(base_url=base, api_key="client-key", max_retries=0), base


async def test_sdk_non_stream_merges_in_order_with_summed_usage(sim_url, gateway_url):
    client, _ = await _client(sim_url, gateway_url)
    raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    answer = raw.parse()
    assert raw.headers["x-gateway-route"] == "split:4"
    assert raw.headers["x-gateway-model"] == "gpt-4o-mini"
    content = answer.choices[0].message.content
    positions = [content.index(f"**{k}.**") for k in range(1, 5)]
    assert positions == sorted(positions) and answer.model == "gpt-4o"
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.usage.prompt_tokens > 4 * 30  # four workers, each with the system prompt, the context and a note
    assert float(raw.headers["x-gateway-saved-usd"]) > 0


async def test_sdk_stream_is_one_normal_stream(sim_url, gateway_url):
    client, _ = await _client(sim_url, gateway_url)
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True},
        extra_headers={"x-request-id": "req-split-stream"})
    headers = raw.headers   # sent before any worker answered: the decision's estimate, marked as such
    assert (headers["x-gateway-route"], headers["x-gateway-cost-basis"], headers["x-request-id"]) == (
        "split:4", "estimate", "req-split-stream")
    assert float(headers["x-gateway-cost-usd"]) > 0 and headers["x-gateway-model"] == "gpt-4o-mini"
    chunks = [chunk async for chunk in raw.parse()]
    assert len({(c.id, c.model, c.created) for c in chunks}) == 1 and chunks[0].model == "gpt-4o"
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert [text.index(f"**{k}.**") for k in range(1, 5)] == sorted(text.index(f"**{k}.**") for k in range(1, 5))
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    usage = [c for c in chunks if not c.choices]
    assert len(usage) == 1 and usage[0].usage.completion_tokens > 0 and chunks[-1] is usage[0]


async def test_failed_workers_retry_then_run_on_the_main_model(sim_url, gateway_url):
    client, _ = await _client(sim_url, gateway_url)
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES, metadata={"sim_fault": "500", "sim_fault_model": "gpt-4o-mini"})
    assert raw.headers["x-gateway-route"] == "split:4"
    assert raw.headers["x-gateway-model"] == "gpt-4o"          # every part ran on the main model after a retry
    assert all(f"**{k}.**" in raw.parse().choices[0].message.content for k in range(1, 5))


async def test_all_workers_failing_falls_back_to_the_main_session(sim_url, gateway_url):
    client, base = await _client(sim_url, gateway_url)
    # 4 parts x 3 attempts fail, then the main session (the 13th call) succeeds
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-4o", messages=MESSAGES, metadata={"sim_fault": "503", "sim_fault_first": "12"})
    assert raw.headers["x-gateway-route"] == "main" and raw.parse().choices[0].message.content
    assert "gateway_split_main_session_fallbacks_total 1" in await _metrics(base)


async def test_client_cancellation_cancels_workers(sim_url, gateway_url):
    client, base = await _client(sim_url, gateway_url)
    slow = {"sim_fault": "timeout"}  # every worker call hangs until cancelled
    with pytest.raises(openai.APITimeoutError):
        await client.with_options(timeout=0.5).chat.completions.create(model="gpt-4o", messages=MESSAGES,
                                                                        metadata=slow)
    for _ in range(30):
        await asyncio.sleep(0.1)
        metrics = await _metrics(base)
        if "gateway_split_workers_cancelled_total 4" in metrics:
            break
    assert "gateway_split_workers_cancelled_total 4" in metrics, [l for l in metrics.splitlines() if "split" in l]


def test_split_eval_smoke():
    done = subprocess.run([sys.executable, "bench/split_eval.py", "--limit", "40", "--timing-limit", "2", "--json"],
                          cwd=REPO, env={**os.environ}, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"precision", "recall", "subtask_count_accuracy"} <= set(figures)
