"""`/metrics` after mixed traffic, read by a strict parser: names, types, HELP, histogram shape, and label values
that stay bounded (route templates, catalog models, configured providers; never a request id or a prompt)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.prom_text import parse

QUESTION = "List three uses of a hash table in compilers."
SPLIT = ("Answer these questions:\n1. What is the capital of France?\n2. Who wrote Hamlet?\n"
         "3. How far is the Moon from Earth?\n4. Why is the sky blue?")
EXPECTED = {  # family -> (type, label names)
    "gateway_http_requests_total": ("counter", {"endpoint", "route", "status_class"}),
    "gateway_request_duration_seconds": ("histogram", {"route"}),
    "gateway_request_overhead_seconds": ("histogram", {"route"}),
    "gateway_upstream_request_duration_seconds": ("histogram", {"provider"}),
    "gateway_upstream_errors_total": ("counter", {"provider", "status_class"}),
    "gateway_requests_total": ("counter", {"route"}),
    "gateway_prompt_tokens_total": ("counter", {"model"}),
    "gateway_completion_tokens_total": ("counter", {"model"}),
    "gateway_cost_usd_total": ("counter", set()),
    "gateway_baseline_cost_usd_total": ("counter", set()),
    "gateway_saved_usd_total": ("counter", {"mechanism"}),
    "gateway_cache_hits_total": ("counter", {"kind", "tier"}),
    "gateway_cache_lookup_seconds": ("histogram", set()),
    "gateway_split_workers_total": ("counter", set()),
    "gateway_split_integration_failure_total": ("counter", set()),
    "gateway_split_workers_in_flight": ("gauge", set()),
    "gateway_policy_reloads_total": ("counter", set()),
    "gateway_policy_last_reload_timestamp_seconds": ("gauge", set()),
    "gateway_upstream_retries_total": ("counter", {"code"}),
    "gateway_fallbacks_total": ("counter", set()),
    "gateway_upstream_circuit_open": ("gauge", {"upstream"}),
    "gateway_upstream_circuit_opened_total": ("counter", {"upstream"}),
}


async def traffic(gateway: str) -> None:
    """A routed answer, its cache hit, a split answer, an upstream 500, a client error and an unknown path."""
    async with httpx.AsyncClient(timeout=20) as http:
        chat = {"model": "gpt-4o", "max_tokens": 40, "messages": [{"role": "user", "content": QUESTION}]}
        for _ in range(2):
            assert (await http.post(gateway + "/chat/completions", json=chat)).status_code == 200
        split = await http.post(gateway + "/chat/completions", json={**chat, "messages": [
            {"role": "user", "content": SPLIT}]})
        assert split.headers["x-gateway-route"].startswith("split:")
        failed = await http.post(gateway + "/chat/completions", json={**chat, "metadata": {"sim_fault": "500"},
                                                                    "messages": [{"role": "user", "content": "Hi?"}]})
        assert failed.status_code == 502
        assert (await http.post(gateway + "/chat/completions", json={"model": "gpt-4o"})).status_code == 400
        assert (await http.get(gateway + "/no/such/path/req_abc123")).status_code == 404


# The shipped default policy with one rule first: the failing request goes to a model the operator names (taken on
# the operator's word), so a routed failure and its fallback to the model asked for are both counted.
FAILING_ROUTED = """rules:
  - name: failing-request-routed
    when: {metadata: {sim_fault: "500"}}
    then: {route: {model: gpt-4o-mini}}
"""


@pytest.fixture
async def metrics(sim_url, gateway_url, tmp_path) -> dict:
    shipped = (Path(__file__).resolve().parents[1] / "gateway" / "policies" / "default.yaml").read_text()
    policy = shipped.replace("name: default", "name: metrics", 1).replace("rules:\n", FAILING_ROUTED, 1)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "metrics.yaml").write_text(policy)
    gateway = await gateway_url(await sim_url(), f"policies:\n  paths: [{tmp_path / 'policies'}]\n  default: metrics\n",
                                environ={"OPENAI_API_KEY": "sk-test"}, policy=None)
    await traffic(gateway)
    async with httpx.AsyncClient() as http:
        response = await http.get(gateway.removesuffix("/v1") + "/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return parse(response.text)


async def test_families_have_the_documented_names_types_and_labels(metrics):
    for name, (kind, labels) in EXPECTED.items():
        assert name in metrics, name
        family = metrics[name]
        assert family.kind == kind, name
        for _, sample_labels, _ in family.samples:
            assert set(sample_labels) - {"le"} == labels, (name, sample_labels)
    assert all(not name.endswith("_total") for name, f in metrics.items() if f.kind == "gauge")
    assert all(f.name.endswith(("_seconds", "_bytes")) for f in metrics.values() if f.kind == "histogram")


async def test_label_values_are_bounded(metrics):
    values = {v for f in metrics.values() for _, labels, _ in f.samples for k, v in labels.items() if k != "le"}
    assert not any("req_" in v or "hash table" in v or "Hamlet" in v for v in values)
    endpoints = {l["endpoint"] for l, _ in metrics["gateway_http_requests_total"].series()}
    assert endpoints == {"/v1/chat/completions", "unmatched"}
    assert {l["route"] for l, _ in metrics["gateway_request_duration_seconds"].series("_count")} <= {
        "main", "routed", "split", "cache", "none"}
    assert {l["model"] for l, _ in metrics["gateway_prompt_tokens_total"].series()} <= {
        "gpt-4o", "gpt-4o-mini", "gpt-4o-mini,gpt-4o", "gpt-4o,gpt-4o-mini", "other"} | _catalog_names()
    for family in metrics.values():
        assert len(family.samples) <= 200, family.name  # a bound far above what this traffic needs


def _catalog_names() -> set[str]:
    from gateway.config.settings import load_settings

    return {spec.name for spec in load_settings(None, environ={}).catalog()}


async def test_traffic_is_counted_where_it_belongs(metrics):
    requests = {(l["endpoint"], l["route"], l["status_class"]): v
                for l, v in metrics["gateway_http_requests_total"].series()}
    assert requests[("/v1/chat/completions", "cache", "2xx")] == 1
    assert requests[("/v1/chat/completions", "none", "5xx")] == 1
    assert requests[("/v1/chat/completions", "none", "4xx")] == 1
    assert requests[("unmatched", "none", "4xx")] == 1
    errors = {(l["provider"], l["status_class"]): v for l, v in metrics["gateway_upstream_errors_total"].series()}
    # The failing request was routed: three tries on the routed model (two retries), then three on the model asked for
    assert errors == {("openai", "5xx"): 6}
    assert [v for _, v in metrics["gateway_upstream_retries_total"].series()] == [4]
    assert [v for _, v in metrics["gateway_fallbacks_total"].series()] == [1]
    counts = {l["route"]: v for l, v in metrics["gateway_request_duration_seconds"].series("_count")}
    assert counts["split"] == 1 and counts["cache"] == 1 and sum(counts.values()) == 5
    overhead = {l["route"]: v for l, v in metrics["gateway_request_overhead_seconds"].series("_sum")}
    total = {l["route"]: v for l, v in metrics["gateway_request_duration_seconds"].series("_sum")}
    assert all(0 <= overhead[route] <= total[route] for route in total)
    upstream_calls = sum(v for _, v in metrics["gateway_upstream_request_duration_seconds"].series("_count"))
    assert upstream_calls >= 1 + 2 + 1  # the first answer, the split's workers, the failed call
    assert metrics["gateway_split_workers_in_flight"].series() == [({}, 0.0)]
    assert sum(v for _, v in metrics["gateway_saved_usd_total"].series()) > 0


@pytest.mark.parametrize("text", [
    "# TYPE a_total counter\na_total 1\n",                                     # no HELP
    "# HELP a_total x\n# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"1\"} 2\n",  # duplicate series
    "# HELP a x\n# TYPE a counter\na 1\n",                                     # counter without _total
    "# HELP a_total x\n# TYPE a_total counter\nb_total 1\n",                   # sample of another family
    "# HELP a_total x\n# TYPE a_total counter\na_total{x=\"a\"b\"} 1\n",       # unescaped quote
    "# HELP h_seconds x\n# TYPE h_seconds histogram\nh_seconds_bucket{le=\"1\"} 2\n"
    "h_seconds_bucket{le=\"+Inf\"} 1\nh_seconds_sum 1\nh_seconds_count 1\n",   # not cumulative
])
def test_the_parser_is_strict(text):
    with pytest.raises((AssertionError, ValueError)):
        parse(text)
