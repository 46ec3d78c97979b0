"""Policies and decisions in a running gateway: evaluate, routing headers, accounting, hot reload, explain."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import openai

from tests.conftest import REPO

ROUTE_CHEAP = """policies:
  paths: [{dir}]
  default: cheap
  reload_interval_s: 0.1
"""
CHEAP_POLICY = """name: cheap
defaults:
  route: {{model: gpt-4o-mini}}
  quality_risk: {risk}
rules:
  - name: keep-drafts
    when: {{agent_role: draft}}
    then: {{route: as_requested}}
"""
QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


async def cheap_gateway(tmp_path, sim_url, gateway_url, risk="0.5"):
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "cheap.yaml").write_text(CHEAP_POLICY.format(risk=risk))
    gateway = await gateway_url(await sim_url(), ROUTE_CHEAP.format(dir=policies), policy=None)
    return gateway, policies / "cheap.yaml"


async def test_evaluate_routing_headers_and_stats(tmp_path, sim_url, gateway_url):
    gateway, _ = await cheap_gateway(tmp_path, sim_url, gateway_url)
    async with httpx.AsyncClient() as http:
        evaluated = (await http.post(gateway + "/gateway/evaluate", json={"model": "gpt-4o",
                                                                          "messages": QUESTION})).json()
    assert evaluated["decision"] == "worker_session" and evaluated["model"] == "gpt-4o-mini"
    assert evaluated["rule"] == "cheap:defaults" and evaluated["estimated_cost_usd"] < evaluated["baseline_cost_usd"]
    assert {"task_type", "complexity", "context_dependency", "tokens"} <= set(evaluated["analysis"])
    async with openai.AsyncOpenAI(base_url=gateway, api_key="k", max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=QUESTION)
        drafted = await client.chat.completions.with_raw_response.create(
            model="gpt-4o", messages=QUESTION, extra_headers={"x-gateway-agent-role": "draft"})
    assert (raw.headers["x-gateway-route"], raw.headers["x-gateway-model"]) == ("routed", "gpt-4o-mini")
    assert raw.parse().model == "gpt-4o-mini"
    usage = raw.parse().usage
    paid = (usage.prompt_tokens * 0.15 + usage.completion_tokens * 0.60) / 1e6
    baseline = (usage.prompt_tokens * 2.5 + usage.completion_tokens * 10) / 1e6
    assert float(raw.headers["x-gateway-cost-usd"]) == round(paid, 10)
    assert float(raw.headers["x-gateway-saved-usd"]) == round(baseline - paid, 10)
    assert (drafted.headers["x-gateway-route"], drafted.headers["x-gateway-rule"]) == ("main", "keep-drafts")
    async with httpx.AsyncClient() as http:
        stats = (await http.get(gateway + "/gateway/stats")).json()
        metrics = (await http.get(gateway.removesuffix("/v1") + "/metrics")).text
    assert stats["total"]["requests"] == 2 and stats["by_route"]["routed"]["requests"] == 1
    assert stats["by_agent_role"]["draft"]["requests"] == 1
    assert abs(stats["total"]["saved_by"]["routing"] - (baseline - paid)) < 1e-8
    assert 'gateway_requests_total{route="routed"} 1' in metrics
    assert 'gateway_saved_usd_total{mechanism="routing"}' in metrics


async def test_hot_reload_and_a_broken_edit_through_a_running_gateway(tmp_path, sim_url, gateway_url):
    gateway, policy_file = await cheap_gateway(tmp_path, sim_url, gateway_url)
    root = gateway.removesuffix("/v1")
    body = {"model": "gpt-4o", "messages": QUESTION}
    async with httpx.AsyncClient() as http:
        policy_file.write_text(CHEAP_POLICY.format(risk="0.5").replace("gpt-4o-mini", "gpt-4.1-nano"))
        for _ in range(50):
            await asyncio.sleep(0.1)
            if (await http.post(gateway + "/gateway/evaluate", json=body)).json()["model"] == "gpt-4.1-nano":
                break
        assert (await http.post(gateway + "/gateway/evaluate", json=body)).json()["model"] == "gpt-4.1-nano"
        policy_file.write_text(CHEAP_POLICY.format(risk="lots"))
        for _ in range(50):
            await asyncio.sleep(0.1)
            ready = (await http.get(root + "/readyz")).json()
            if ready["policies"]["errors"]:
                break
        assert ready["status"] == "degraded" and "quality_risk" in json.dumps(ready["policies"]["errors"])
        assert "gateway_policy_files_in_error 1" in (await http.get(root + "/metrics")).text
        still = await http.post(gateway + "/chat/completions", json=body)
        assert still.status_code == 200 and still.headers["x-gateway-model"] == "gpt-4.1-nano"


async def test_client_picks_a_policy_by_header(sim_url, gateway_url):
    gateway = await gateway_url(await sim_url(), policy="default")
    async with httpx.AsyncClient() as http:
        unknown = await http.post(gateway + "/gateway/evaluate", json={"model": "gpt-4o", "messages": QUESTION},
                                  headers={"x-gateway-policy": "nope"})
        asked = await http.post(gateway + "/gateway/evaluate", json={"model": "gpt-4o", "messages": QUESTION},
                                headers={"x-gateway-policy": "as-asked"})
    assert unknown.status_code == 400 and unknown.json()["error"]["param"] == "x-gateway-policy"
    assert asked.json()["decision"] == "main_session" and asked.json()["rule"] == "as-asked:defaults"


def test_policy_explain_prints_analysis_options_and_choice(tmp_path):
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"model": "gpt-4o", "messages": [
        {"role": "system", "content": "You are a data assistant."},
        {"role": "user", "content": "Classify the sentiment of: 'I love this phone'. Answer positive or negative."}]}))
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "policy", "explain", "--request", str(request)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "Analysis" in out and "task type classification" in out and "Policy default, rule" in out
    assert "main" in out and "Choice:" in out and "$" in out
    as_json = subprocess.run([sys.executable, "-m", "gateway.cli", "policy", "explain", "--request", str(request),
                              "--json", "--policy", "conservative"], cwd=REPO, capture_output=True, text=True,
                             timeout=60)
    report = json.loads(as_json.stdout)
    assert report["policy"] == "conservative" and report["options"][0]["kind"] == "main"
