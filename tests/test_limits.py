"""Client keys with limits, through the real gateway, the simulator and a real Redis: allowed models, rate limits,
budgets (with concurrent requests and two replicas), and Redis stopped mid-run."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import redis

from gateway.cache.redis_link import RedisLink
from gateway.cli import main
from gateway.config.key_settings import Budget, KeyLimits
from gateway.config.settings import ClientKey, hash_key, load_settings
from gateway.config.yaml_source import ConfigError
from gateway.limits.service import LimitService
from gateway.server.errors import APIError
from tests.conftest import write_config
from tests.test_cache_exact import own_redis  # noqa: F401  (a fixture)

KEY = "gk-test-limits-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def config(redis_url: str, prefix: str, limits: str) -> str:
    return (f"redis_url: {redis_url}\ncache: {{redis_prefix: {prefix}, redis_timeout_ms: 1000}}\n"
            f"auth:\n  keys:\n    - key_sha256: {hash_key(KEY)}\n      name: team-a\n" + limits)


def chat(index: int, model: str = "gpt-4o") -> dict:
    return {"model": model, "max_tokens": 50,
            "messages": [{"role": "user", "content": f"Question {index}: name a colour of the sea, briefly."}]}


async def post(url: str, body: dict, http: httpx.AsyncClient | None = None) -> httpx.Response:
    if http is not None:
        return await http.post(url + "/chat/completions", json=body, headers=AUTH)
    async with httpx.AsyncClient(timeout=20) as client:
        return await client.post(url + "/chat/completions", json=body, headers=AUTH)


async def estimate(gateway: str, body: dict) -> float:
    async with httpx.AsyncClient() as http:
        return (await http.post(gateway + "/gateway/evaluate", json=body, headers=AUTH)).json()["estimated_cost_usd"]


async def test_wrong_key_401_and_model_not_allowed_403(sim_url, gateway_url, redis_url, redis_prefix):
    gateway = await gateway_url(await sim_url(), config(redis_url, redis_prefix, "      models: ['gpt-4o-mini*']\n"))
    async with httpx.AsyncClient() as http:
        wrong = await http.post(gateway + "/chat/completions", json=chat(0), headers={"Authorization": "Bearer no"})
    refused, allowed = await post(gateway, chat(1)), await post(gateway, chat(2, "gpt-4o-mini"))
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    assert refused.status_code == 403
    assert refused.json()["error"] == {"message": "Your gateway key may not use the model 'gpt-4o'.",
                                       "type": "invalid_request_error", "param": "model", "code": "model_not_allowed"}
    assert allowed.status_code == 200


async def test_rate_limit_429_with_retry_after_and_headers(sim_url, gateway_url, redis_url, redis_prefix):
    gateway = await gateway_url(await sim_url(), config(
        redis_url, redis_prefix, "      limits: {requests_per_minute: 3, tokens_per_minute: 100000}\n"))
    replies = [await post(gateway, chat(i)) for i in range(4)]
    assert [r.status_code for r in replies] == [200, 200, 200, 429]
    first, refused = replies[0].headers, replies[3]
    assert (first["x-ratelimit-limit-requests"], first["x-ratelimit-remaining-requests"]) == ("3", "2")
    assert first["x-ratelimit-reset-requests"].endswith("s") and first["x-ratelimit-limit-tokens"] == "100000"
    assert int(first["x-ratelimit-remaining-tokens"]) < 100000
    assert refused.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining-requests"] == "0"


async def test_streamed_and_cached_answers_carry_the_headers(sim_url, gateway_url, redis_url, redis_prefix):
    gateway = await gateway_url(await sim_url(), config(redis_url, redis_prefix,
                                                        "      limits: {requests_per_minute: 10}\n"))
    streamed = await post(gateway, {**chat(1), "stream": True})
    cached = await post(gateway, {**chat(1), "stream": True})
    assert streamed.headers["x-ratelimit-remaining-requests"] == "9"
    assert (cached.headers["x-gateway-cache"], cached.headers["x-ratelimit-remaining-requests"]) == ("exact", "8")


async def test_a_budget_that_runs_out_gives_insufficient_quota(sim_url, gateway_url, redis_url, redis_prefix):
    sim = await sim_url()
    probe = await gateway_url(sim, config(redis_url, redis_prefix + "-probe", ""))
    budget = 2.5 * await estimate(probe, chat(0))
    gateway = await gateway_url(sim, config(redis_url, redis_prefix, f"      budget: {{usd: {budget}, period: day}}\n"))
    replies = [await post(gateway, chat(i)) for i in range(6)]
    statuses = [r.status_code for r in replies]
    assert 200 in statuses and statuses[-1] == 429
    error = replies[-1].json()["error"]
    assert (error["type"], error["code"]) == ("insufficient_quota", "budget_exceeded")
    assert replies[-1].headers["x-should-retry"] == "false" and int(replies[-1].headers["retry-after"]) <= 86400
    again = await post(gateway, chat(0))            # a cached answer costs nothing: the budget does not stop it
    assert (again.status_code, again.headers["x-gateway-cache"]) == (200, "exact")


def budget_state(redis_url: str, prefix: str) -> dict[str, float]:
    client = redis.Redis.from_url(redis_url)
    (key,) = list(client.scan_iter(prefix + ":limits:*:budget:*"))
    return {k.decode(): float(v) for k, v in client.hgetall(key).items()}


async def test_concurrent_requests_overspend_at_most_the_estimates_in_flight(sim_url, gateway_url, redis_url,
                                                                             redis_prefix):
    sim = await sim_url(latency=True)
    probe = await gateway_url(sim, config(redis_url, redis_prefix + "-probe", ""))
    estimates = [await estimate(probe, chat(i)) for i in range(20)]
    budget = 3.5 * max(estimates)
    text = config(redis_url, redis_prefix, f"      budget: {{usd: {budget}, period: total}}\n")
    gateway = await gateway_url(sim, text)
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=40)) as http:
        replies = await asyncio.gather(*(post(gateway, chat(i), http) for i in range(20)))
    answered = [r for r in replies if r.status_code == 200]
    refused = [r for r in replies if r.status_code == 429]
    assert len(answered) + len(refused) == 20 and refused and answered
    assert {r.json()["error"]["code"] for r in refused} == {"budget_exceeded"}
    spent = sum(float(r.headers["x-gateway-cost-usd"]) for r in answered)
    assert spent <= budget + max(estimates)
    stored = budget_state(redis_url, redis_prefix)
    assert stored["spent"] == pytest.approx(spent, rel=1e-3) and stored["reserved"] == pytest.approx(0, abs=1e-9)


async def test_two_replicas_share_one_budget(sim_url, gateway_url, redis_url, redis_prefix):
    sim = await sim_url()
    probe = await gateway_url(sim, config(redis_url, redis_prefix + "-probe", ""))
    budget = 2.5 * await estimate(probe, chat(0))
    text = config(redis_url, redis_prefix, f"      budget: {{usd: {budget}, period: month}}\n")
    first, second = await gateway_url(sim, text), await gateway_url(sim, text)
    statuses = [(await post(first if i % 2 else second, chat(i))).status_code for i in range(8)]
    assert statuses.count(200) in (2, 3) and statuses[-2:] == [429, 429]


async def test_redis_stopped_mid_run_fails_no_request(sim_url, gateway_url, own_redis):  # noqa: F811
    gateway = await gateway_url(await sim_url(), config(
        own_redis["url"], "gateway", "      budget: {usd: 100, period: day}\n"
                                     "      limits: {requests_per_minute: 1000}\n"))
    statuses = []
    for index in range(16):
        if index == 6:
            own_redis["kill"]()
        statuses.append((await post(gateway, chat(index))).status_code)
    assert statuses == [200] * 16
    async with httpx.AsyncClient() as http:
        ready = (await http.get(gateway.removesuffix("/v1") + "/readyz")).json()
        metrics = (await http.get(gateway.removesuffix("/v1") + "/metrics")).text
    assert ready["limits"]["state"] == "degraded" and ready["limits"]["local_admissions"] >= 9
    assert "gateway_limits_degraded 1" in metrics


async def test_local_limits_apply_while_redis_is_down(sim_url, gateway_url, own_redis):  # noqa: F811
    gateway = await gateway_url(await sim_url(), config(own_redis["url"], "gateway",
                                                        "      limits: {requests_per_minute: 3}\n"))
    own_redis["kill"]()
    statuses = [(await post(gateway, chat(i))).status_code for i in range(4)]
    assert statuses == [200, 200, 200, 429]


async def test_a_reservation_never_settled_frees_the_budget_at_its_deadline(redis_url, redis_prefix):
    """A replica that reserved and died (it never settles) holds the budget only until the reservation's deadline;
    a settlement that arrives after the deadline adds the spend but does not release the budget a second time."""
    key = ClientKey("team-a", None, hash_key(KEY), KeyLimits(budget=Budget(1.0, "day")))
    dead, alive = (LimitService(RedisLink(redis_url, 1.0), redis_prefix, reservation_timeout_s=1.0) for _ in "ab")
    orphan = await dead.admit(key, "gpt-4o", 0.6, 0)                      # reserved; its replica then "dies"
    with pytest.raises(APIError) as refused:
        await alive.admit(key, "gpt-4o", 0.6, 0)
    assert refused.value.body()["error"]["code"] == "budget_exceeded"
    assert budget_state(redis_url, redis_prefix)["reserved"] == pytest.approx(0.6)
    await asyncio.sleep(1.2)
    admitted = await alive.admit(key, "gpt-4o", 0.6, 0)                   # the orphan's 0.6 was released first
    assert alive.status()["expired_reservations"] == 1
    assert budget_state(redis_url, redis_prefix)["reserved"] == pytest.approx(0.6)
    orphan.cost_usd = 0.1
    await orphan.settle()                                                 # late: spend counts, no second release
    admitted.cost_usd = 0.5
    await admitted.settle()
    assert budget_state(redis_url, redis_prefix) == pytest.approx({"spent": 0.6, "reserved": 0.0})
    for service in (dead, alive):
        await service.link.close()


def test_config_rejects_bad_limits_with_lines(tmp_path):
    path = write_config(tmp_path, "auth:\n  keys:\n    - key_sha256: abc\n      budget: {usd: -1, period: week}\n"
                                  "      limits: {requests_per_minute: 0}\n")
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    text = str(error.value)
    assert "gateway.yaml:3: auth.keys[0].key_sha256: must be 64 hex digits" in text
    assert "gateway.yaml:4: auth.keys[0].budget.usd: must be at least 0" in text
    assert "auth.keys[0].budget.period: must be one of day, month, total" in text
    assert "gateway.yaml:5: auth.keys[0].limits.requests_per_minute: must be at least 1" in text


def test_keys_create_prints_the_key_once_and_an_entry_with_its_hash(tmp_path, capsys):
    assert main(["keys", "create", "--name", "ci", "--budget-usd", "5", "--period", "day", "--models", "gpt-4o*",
                 "--rpm", "60"]) == 0
    out = capsys.readouterr().out
    key = next(word for word in out.split() if word.startswith("gk-"))
    assert out.count(key) == 1 and f"key_sha256: {hash_key(key)}" in out
    path = write_config(tmp_path, "auth:\n  keys:\n" + out.split("gateway config:\n", 1)[1])
    (entry,) = load_settings(path).client_keys.values()
    assert (entry.name, entry.limits.models, entry.limits.budget.usd, entry.limits.requests_per_minute) == (
        "ci", ("gpt-4o*",), 5.0, 60)
    main(["keys", "hash", key])
    assert capsys.readouterr().out.strip() == hash_key(key)
