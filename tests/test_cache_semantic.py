"""The semantic cache through the real gateway with the real MiniLM model: paraphrases hit, look-alikes and
follow-ups do not, and gateway processes sharing a real Redis find each other's entries (and rebuild on start)."""

from __future__ import annotations

import asyncio
import os
import time

import httpx
import pytest
import redis

from tests.conftest import Process, free_port, write_config

MODEL_DIR = os.environ.get("GATEWAY_MODEL_DIR")


@pytest.fixture(scope="module")
def model_dir() -> str:
    if MODEL_DIR and os.path.isdir(MODEL_DIR):
        return MODEL_DIR
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but GATEWAY_MODEL_DIR={MODEL_DIR!r} holds no model")
    pytest.skip("GATEWAY_MODEL_DIR not set; these tests need the MiniLM folder")


def ask(text: str, history: list[dict] | None = None) -> dict:
    return {"model": "gpt-4o", "max_tokens": 40,
            "messages": [{"role": "system", "content": "You are a helpful assistant."}, *(history or []),
                         {"role": "user", "content": text}]}


async def post(url: str, body: dict) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as http:
        return await http.post(url + "/chat/completions", json=body)


async def ready(gateway: str, timeout: float = 20.0) -> dict:
    """/readyz once the semantic tier has loaded (the embedder loads off the event loop after start-up)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient() as http:
        while True:
            status = (await http.get(gateway.removesuffix("/v1") + "/readyz")).json()
            if "entries" in status["cache"]["semantic"] or time.monotonic() > deadline:
                return status
            await asyncio.sleep(0.1)


@pytest.fixture
async def gateway(sim_url, gateway_url, model_dir):
    url = await gateway_url(await sim_url(), environ={"GATEWAY_MODEL_DIR": model_dir}, policy="default")
    status = await ready(url)
    assert status["cache"]["semantic"]["embedder"]["kind"] == "local", status["cache"]
    assert status["cache"]["semantic"]["verifier"] == "alignment", status["cache"]
    return url


async def test_a_paraphrase_is_answered_from_the_semantic_cache(gateway):
    first = await post(gateway, ask("How can I improve my English speaking skills?"))
    assert first.headers["x-gateway-cache"] == "miss"
    second = await post(gateway, ask("How do I improve my English speaking skills?"))
    assert (second.headers["x-gateway-cache"], second.headers["x-gateway-route"]) == ("semantic", "cache")
    assert 0.9 < float(second.headers["x-gateway-cache-similarity"]) < 1.0
    assert second.json()["choices"][0]["message"] == first.json()["choices"][0]["message"]
    assert float(second.headers["x-gateway-saved-usd"]) > 0 and second.headers["x-gateway-cost-usd"] == "0"
    async with httpx.AsyncClient() as http:
        stats = (await http.get(gateway + "/gateway/stats")).json()
    assert stats["total"]["saved_by"]["semantic_cache"] > 0


@pytest.mark.parametrize("stored, asked, family", [
    # cosine ~0.96 and ~0.98: past the threshold, so only the verifier stands between them and a wrong answer
    ("How do I turn on dark mode in Windows 11 settings?", "How do I turn off dark mode in Windows 11 settings?",
     "antonym"),
    ("Is it safe to eat raw eggs during pregnancy?", "Is it not safe to eat raw eggs during pregnancy?", "negation"),
    # below the threshold already: never even offered to the verifier
    ("What is the population of France in 2020?", "What is the population of France in 2010?", None),
    ("How do I convert a list to JSON in Python?", "How do I convert a list to JSON in Java?", None),
])
async def test_look_alikes_are_not_served(gateway, stored, asked, family):
    await post(gateway, ask(stored))
    response = await post(gateway, ask(asked))
    assert response.headers["x-gateway-cache"] == "miss"
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(gateway.removesuffix("/v1") + "/metrics")).text
    if family:
        assert f'gateway_cache_verifier_rejections_total{{reason="{family}"}} 1' in metrics


async def test_follow_ups_and_boilerplate_never_reach_the_semantic_cache(gateway):
    earlier = [{"role": "user", "content": "Compare PostgreSQL and MySQL for analytics."},
               {"role": "assistant", "content": "PostgreSQL has richer SQL; MySQL is simpler to run."}]
    await post(gateway, ask("Which one of them is better for me?", earlier))
    other_chat = [{"role": "user", "content": "Compare Vim and Emacs for writing prose."},
                  {"role": "assistant", "content": "Vim is modal and light; Emacs is a whole environment."}]
    assert (await post(gateway, ask("Which one of them is better for me?", other_chat))).headers[
        "x-gateway-cache"] == "miss"
    await post(gateway, ask("continue"))
    assert (await post(gateway, ask("go on"))).headers["x-gateway-cache"] == "miss"
    async with httpx.AsyncClient() as http:
        evaluation = (await http.post(gateway + "/gateway/evaluate", json=ask("thanks"))).json()
    assert evaluation["cache"]["semantic"] is False


def test_gateway_processes_share_semantic_entries_and_rebuild_from_redis(tmp_path, redis_url, redis_prefix,
                                                                        model_dir):
    sim_port = free_port()
    sim = Process(["sim", "--host", "127.0.0.1", "--port", str(sim_port), "--no-latency"], sim_port)
    config = write_config(tmp_path, f"redis_url: {redis_url}\ncache: {{redis_prefix: {redis_prefix}, redis_timeout_ms: 1000, "
                                    f"semantic: {{sync_interval_s: 0.2}}}}\n")
    env = {"GATEWAY_MODEL_DIR": model_dir, "OPENAI_API_KEY": "sk-test"}
    gateways: list[Process] = []

    def start_gateway() -> str:
        port = free_port()
        process = Process(["serve", "--config", config, "--port", str(port), "--upstream", sim.url + "/v1"], port,
                          env)
        gateways.append(process)
        process.wait_ready("/healthz")
        asyncio.run(ready(process.url + "/v1"))
        return process.url + "/v1"

    try:
        sim.wait_ready("/v1/models")
        one, two = start_gateway(), start_gateway()
        assert asyncio.run(post(one, ask("What are good ways to learn a new language quickly?"))).headers[
            "x-gateway-cache"] == "miss"
        time.sleep(1.0)  # within a few sync intervals, the other replica has the entry
        shared = asyncio.run(post(two, ask("What are the best ways to learn a new language quickly?")))
        assert shared.headers["x-gateway-cache"] == "semantic"
        # The entry's token states went to Redis beside its answer, so the other replica's verifier read them
        # without running the model on the cached question.
        stored_tokens = redis.Redis.from_url(redis_url).keys(f"{redis_prefix}:sem:t:*")
        assert len(stored_tokens) == 1
        three = start_gateway()  # started after the entry was stored: it rebuilds its index from Redis
        rebuilt = asyncio.run(post(three, ask("What are the best ways to learn a new language quickly?")))
        assert rebuilt.headers["x-gateway-cache"] in ("semantic", "exact")
        calls = [r for r in httpx.get(sim.url + "/sim/requests").json() if r["method"] == "POST"]
        assert len(calls) == 1
    finally:
        for process in gateways:
            process.stop()
        sim.stop()


async def test_without_a_model_the_semantic_cache_stays_off_and_says_why(sim_url, gateway_url, tmp_path):
    url = await gateway_url(await sim_url(), environ={"GATEWAY_MODEL_DIR": str(tmp_path / "no-model")},
                            policy="default")
    deadline = time.monotonic() + 10
    async with httpx.AsyncClient() as http:
        while True:
            semantic = (await http.get(url.removesuffix("/v1") + "/readyz")).json()["cache"]["semantic"]
            if semantic.get("state") != "loading" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.05)
    assert semantic["state"].startswith("off:") and "GATEWAY_MODEL_DIR" in semantic["state"]
    await post(url, ask("How can I improve my English speaking skills?"))
    assert (await post(url, ask("How do I improve my English speaking skills?"))).headers["x-gateway-cache"] == "miss"
    assert (await post(url, ask("How can I improve my English speaking skills?"))).headers["x-gateway-cache"] == "exact"


async def test_turns_longer_than_the_embedder_reads_skip_the_semantic_cache(gateway):
    question = "Explain how TCP congestion control works."
    background = "I am studying computer networks for an exam next month and want clear explanations. " * 25
    async with httpx.AsyncClient() as http:
        short = (await http.post(gateway + "/gateway/evaluate", json=ask(question))).json()
        long = (await http.post(gateway + "/gateway/evaluate", json=ask(background + question))).json()
    assert short["cache"]["semantic"] is True
    assert long["cache"]["semantic"] is False and long["cache"]["exact"] is True
