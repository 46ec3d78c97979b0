"""No key the gateway holds or is shown ever appears in anything it writes: its whole log (at DEBUG), its answers,
its errors, /readyz, /metrics, the stats and the dashboard's data, across success and failure paths."""

from __future__ import annotations

import httpx

from tests.conftest import Process, free_port, write_config

UPSTREAM_KEY = "sk-upstream-9f3b2c7d1e5a4f60"       # the gateway's own key to the (simulated) provider
CLIENT_KEY = "gk-client-4d2e8a1f9c7b3e50"           # a gateway key a client authenticates with
WRONG_KEY = "sk-wrong-7a1c3e5f9b2d4e68"             # a key a client sends by mistake
CONFIG = """
auth:
  keys:
    - {key: "${CLIENT_KEY}", name: team-a, tenant: acme}
providers:
  openai:
    base_url: http://unused
    api_key_env: OPENAI_API_KEY
    max_retries: 1
"""
CHAT = {"model": "gpt-4o-mini", "max_tokens": 16, "messages": [{"role": "user", "content": "Say hello."}]}


def test_no_key_in_any_output(tmp_path):
    sim_port, gateway_port = free_port(), free_port()
    sim = Process(["sim", "--host", "127.0.0.1", "--port", str(sim_port), "--no-latency",
                   "--require-key", UPSTREAM_KEY], sim_port)
    gateway = Process(["serve", "--config", write_config(tmp_path, CONFIG), "--port", str(gateway_port),
                       "--upstream", sim.url + "/v1"], gateway_port,
                      env={"OPENAI_API_KEY": UPSTREAM_KEY, "CLIENT_KEY": CLIENT_KEY, "GATEWAY_LOG_LEVEL": "DEBUG"})
    seen: list[str] = []
    try:
        sim.wait_ready("/v1/models")
        gateway.wait_ready("/healthz")
        seen += _exercise(gateway.url)
    finally:
        seen.append(gateway.stop())
        sim.stop()
    everything = "\n".join(seen)
    assert "hello" in everything.lower() or "chat.completion" in everything  # the traffic really happened
    for key in (UPSTREAM_KEY, CLIENT_KEY, WRONG_KEY):
        assert key not in everything, f"a key leaked: {key[:6]}..."
        assert key[3:] not in everything  # not even without its prefix


def _exercise(base: str) -> list[str]:
    good = {"Authorization": f"Bearer {CLIENT_KEY}"}
    texts = []
    with httpx.Client(base_url=base, timeout=10) as http:
        calls = [
            ("post", "/v1/chat/completions", {"json": CHAT, "headers": good}),
            ("post", "/v1/chat/completions", {"json": {**CHAT, "stream": True}, "headers": good}),
            ("post", "/v1/chat/completions", {"json": CHAT, "headers": {"Authorization": f"Bearer {WRONG_KEY}"}}),
            ("post", "/v1/chat/completions", {"json": {**CHAT, "metadata": {"sim_fault": "500"}}, "headers": good}),
            ("post", "/v1/chat/completions", {"json": {**CHAT, "messages": f"my key is {WRONG_KEY}"},
                                              "headers": good}),
            ("post", "/v1/embeddings", {"json": {"model": "text-embedding-3-small", "input": "x"}, "headers": good}),
            ("get", "/readyz", {}), ("get", "/metrics", {}), ("get", "/v1/gateway/stats", {"headers": good}),
            ("get", "/v1/gateway/dashboard-data", {"headers": good}), ("get", "/dashboard", {}),
        ]
        for method, path, options in calls:
            response = getattr(http, method)(path, **options)
            texts.append(f"{response.status_code} {dict(response.headers)} {response.text}")
    return texts
