"""The dashboard in a real headless Chromium: it loads without a console error and shows what the API reports;
its data endpoint is protected like the API (the page itself holds no data and loads for anyone).

Without Chromium the browser tests skip, saying so; under CI=true they fail instead (tests/tools/ensure-chromium.sh
installs it). GATEWAY_UPDATE_SCREENSHOT=1 refreshes docs/dashboard.png from the run.
"""

from __future__ import annotations

import os

import httpx
import pytest

from tests.browser import Browser, chromium_path
from tests.conftest import REPO

KEY = "gk-dashboard-key-123"
QUESTIONS = ["List three uses of a hash table in compilers.", "Name two sorting algorithms that are stable.",
             "What does a write-ahead log protect against?"]


def chat(question: str) -> dict:
    return {"model": "gpt-4o", "max_tokens": 40, "messages": [{"role": "user", "content": question}]}


@pytest.fixture
def chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed under CI=true: run tests/tools/ensure-chromium.sh")
        pytest.skip("chromium is not installed (tests/tools/ensure-chromium.sh installs it)")
    return path


async def replay(gateway: str, headers: dict | None = None) -> dict:
    """A few requests, the first one repeated (an exact-cache hit); returns /v1/gateway/stats after them."""
    async with httpx.AsyncClient(timeout=10, headers=headers) as http:
        for question in QUESTIONS + QUESTIONS[:1]:
            response = await http.post(gateway + "/chat/completions", json=chat(question))
            assert response.status_code == 200, response.text
        assert response.headers["x-gateway-cache"] == "exact"
        return (await http.get(gateway + "/gateway/stats")).json()


def usd(value: float) -> str:
    """The page's own format (dashboard.html: usd())."""
    return f"${value:.2f}" if abs(value) >= 1 else f"${value:.6f}"


async def test_dashboard_shows_what_the_api_reports(sim_url, gateway_url, chromium, tmp_path):
    gateway = await gateway_url(await sim_url())
    stats = await replay(gateway)
    assert stats["total"]["saved_usd"] > 0
    async with Browser() as page:
        await page.goto(gateway.removesuffix("/v1") + "/dashboard")
        await page.wait_for("document.body.dataset.loaded === 'true'")
        saved = await page.evaluate("[document.getElementById('saved-total').dataset.value,"
                                    " document.getElementById('saved-total').textContent]")
        rows = await page.evaluate("document.querySelectorAll('#recent tr').length")
        mechanisms = await page.evaluate("[...document.querySelectorAll('#savings .bar')].map(b => b.dataset.name)")
        lines = await page.evaluate("document.querySelectorAll('#cost-chart path').length")
        hit_rate = await page.evaluate("document.getElementById('cache-hit-rate').textContent")
        await page.screenshot(tmp_path / "dashboard.png")
        if os.environ.get("GATEWAY_UPDATE_SCREENSHOT") == "1":
            await page.screenshot(REPO / "docs" / "dashboard.png")
        errors = page.errors
    assert float(saved[0]) == pytest.approx(stats["total"]["saved_usd"]) and saved[1] == usd(stats["total"]["saved_usd"])
    assert rows == len(QUESTIONS) + 1 and "exact_cache" in mechanisms and lines == 2
    assert hit_rate == "25.0%"  # 4 lookups, 1 hit
    assert errors == []
    assert (tmp_path / "dashboard.png").stat().st_size > 10_000


async def test_dashboard_with_client_keys_takes_the_key_from_the_fragment(sim_url, gateway_url, chromium):
    gateway = await gateway_url(await sim_url(), environ={"GATEWAY_API_KEYS": KEY})
    stats = await replay(gateway, {"Authorization": f"Bearer {KEY}"})
    async with Browser() as page:
        await page.goto(gateway.removesuffix("/v1") + f"/dashboard#key={KEY}")
        await page.wait_for("document.body.dataset.loaded === 'true'")
        saved = await page.evaluate("document.getElementById('saved-total').dataset.value")
        where = await page.evaluate("[location.hash, sessionStorage.getItem('gateway-dashboard-key')]")
        errors = page.errors
    assert float(saved) == pytest.approx(stats["total"]["saved_usd"])
    assert where == ["", KEY]  # out of the address bar, kept for this tab only
    assert errors == []


async def test_data_needs_the_key_when_keys_are_configured(sim_url, gateway_url):
    gateway = await gateway_url(await sim_url(), environ={"GATEWAY_API_KEYS": KEY})
    root = gateway.removesuffix("/v1")
    async with httpx.AsyncClient(timeout=10) as http:
        page = await http.get(root + "/dashboard")
        missing = await http.get(gateway + "/gateway/dashboard-data")
        wrong = await http.get(gateway + "/gateway/dashboard-data", headers={"Authorization": "Bearer gk-wrong-key"})
        right = await http.get(gateway + "/gateway/dashboard-data", headers={"Authorization": f"Bearer {KEY}"})
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "connect-src 'self'" in page.headers["content-security-policy"]
    external = page.text.replace("http://www.w3.org/2000/svg", "")  # the SVG namespace is a name, not a fetch
    assert KEY not in page.text and "http://" not in external and "https://" not in external  # no CDN, no fonts
    for refused, code in ((missing, "missing_api_key"), (wrong, "invalid_api_key")):
        assert refused.status_code == 401 and refused.json()["error"]["code"] == code
    assert right.status_code == 200 and KEY not in right.text
    body = right.json()
    assert set(body) == {"stats", "history", "cache", "workers_in_flight", "policies"}
    assert body["policies"]["default"] == "as-asked" and body["policies"]["files_in_error"] == []


async def test_recent_outcomes_carry_no_prompt_text(sim_url, gateway_url):
    gateway = await gateway_url(await sim_url())
    await replay(gateway)
    async with httpx.AsyncClient(timeout=10) as http:
        body = (await http.get(gateway + "/gateway/dashboard-data")).json()
    recent = body["history"]["recent"]
    assert len(recent) == 4 and recent[0]["route"] == "cache" and recent[0]["cache"] == "exact"
    assert set(recent[0]) == {"time", "route", "model", "cache", "rule", "cost_usd", "baseline_cost_usd", "saved_usd"}
    assert not any(question.split()[0] in str(body) for question in QUESTIONS[1:])
    assert sum(b["requests"] for b in body["history"]["series"]) == 4
