"""Client keys hot-reload from the config file, against a real gateway process: a revoked key gets 401 within
seconds, a broken file keeps the last good keys (reported in /readyz and /metrics), and changed limits apply."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

from gateway.config.settings import hash_key
from tests.conftest import Process, free_port

KEEP, REVOKE = "gk-reload-keep-7f3a", "gk-reload-revoke-91c2"
CHAT = {"model": "gpt-4o", "max_tokens": 10, "messages": [{"role": "user", "content": "Say hi."}]}


def config(entries: str) -> str:
    return ("policies:\n  default: as-asked\nauth:\n  reload_interval_s: 0.2\n  keys:\n" + entries)


def entry(key: str, name: str, extra: str = "") -> str:
    return f"    - key_sha256: {hash_key(key)}\n      name: {name}\n{extra}"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    sim_port, port = free_port(), free_port()
    sim = Process(["sim", "--host", "127.0.0.1", "--port", str(sim_port), "--no-latency"], sim_port)
    path = tmp_path / "gateway.yaml"
    path.write_text(config(entry(KEEP, "keep") + entry(REVOKE, "revoke")))
    gateway = Process(["serve", "--config", str(path), "--port", str(port), "--upstream", sim.url + "/v1"], port)
    try:
        sim.wait_ready("/v1/models")
        gateway.wait_ready("/healthz")
        yield path, gateway.url
    finally:
        gateway.stop()
        sim.stop()


def status(url: str, key: str, body: dict = CHAT) -> int:
    return httpx.post(url + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"},
                      timeout=10).status_code


def within(seconds: float, check: Callable[[], bool]) -> float:
    """How long until `check()` held (fails the test if it did not within `seconds`)."""
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if check():
            return time.monotonic() - start
        time.sleep(0.1)
    pytest.fail(f"not within {seconds} s")


def test_a_revoked_key_gets_401_without_a_restart(stack):
    path, url = stack
    assert (status(url, KEEP), status(url, REVOKE)) == (200, 200)
    path.write_text(config(entry(KEEP, "keep")))
    took = within(5, lambda: status(url, REVOKE) == 401)
    assert took < 5 and status(url, KEEP) == 200
    error = httpx.post(url + "/v1/chat/completions", json=CHAT, headers={"Authorization": f"Bearer {REVOKE}"}).json()
    assert error["error"]["code"] == "invalid_api_key"
    ready = httpx.get(url + "/readyz").json()
    assert ready["client_keys"]["keys"] == 1 and ready["client_keys"]["reloads"] >= 1


def test_a_broken_file_keeps_the_last_good_keys_and_changed_limits_apply(stack):
    path, url = stack
    path.write_text(config(entry(KEEP, "keep") + "      budget: {usd: -5}\n"))
    within(5, lambda: httpx.get(url + "/readyz").json()["status"] == "degraded")
    ready = httpx.get(url + "/readyz").json()
    assert "auth.keys[0].budget.usd: must be at least 0" in ready["client_keys"]["error"]
    assert (status(url, KEEP), status(url, REVOKE)) == (200, 200)      # the last good keys, both still in force
    assert "gateway_client_keys_in_error 1" in httpx.get(url + "/metrics").text
    path.write_text(config(entry(KEEP, "keep", "      models: ['gpt-4o-mini*']\n")))
    within(5, lambda: status(url, KEEP) == 403)                         # the new allowed models apply
    assert status(url, KEEP, {**CHAT, "model": "gpt-4o-mini"}) == 200 and status(url, REVOKE) == 401
    ready = httpx.get(url + "/readyz").json()
    assert ready["status"] == "ok" and ready["client_keys"]["error"] is None


def test_removing_every_key_does_not_open_the_gateway(stack):
    path, url = stack
    path.write_text("policies:\n  default: as-asked\nauth:\n  reload_interval_s: 0.2\n")
    within(5, lambda: status(url, KEEP) == 401)
    assert httpx.post(url + "/v1/chat/completions", json=CHAT).status_code == 401
    assert httpx.get(url + "/readyz").json()["client_auth"] == "keys"
