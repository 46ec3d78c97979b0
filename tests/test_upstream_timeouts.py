"""Timeouts by phase, per provider and per model, through the real gateway and the simulator's latency overrides:
a first byte too slow is retried and falls back (nothing reached the client yet), a stream that goes silent or runs
past its total ends with an error event, and the config layers per-model timeouts over the provider's."""

from __future__ import annotations

import httpx
import pytest

from gateway.config.settings import load_settings
from gateway.config.yaml_source import ConfigError
from tests.conftest import write_config

POLICY = """name: timeouts
defaults:
  route: as_requested
  fallbacks: [gpt-4o-mini]
  cache: {exact: false, semantic: false}
  split: {allowed: false}
"""


def config(tmp_path, gpt_4o: str) -> str:
    (tmp_path / "timeouts.yaml").write_text(POLICY)
    return (f"providers:\n  openai:\n    base_url: http://unused\n    first_byte_timeout_s: 5\n"
            f"models:\n  gpt-4o:\n{gpt_4o}policies:\n  paths: [{tmp_path / 'timeouts.yaml'}]\n  default: timeouts\n")


def chat(stream: bool, **metadata: str) -> dict:
    return {"model": "gpt-4o", "max_tokens": 40, "stream": stream, "metadata": metadata,
            "messages": [{"role": "user", "content": "Name three rivers."}]}


async def upstream_models(sim: str) -> list[str]:
    async with httpx.AsyncClient() as http:
        log = (await http.get(sim.removesuffix("/v1") + "/sim/requests")).json()
    return [entry["model"] for entry in log if entry["method"] == "POST"]


def events(text: str) -> list[str]:
    return [line[6:] for line in text.split("\n") if line.startswith("data: ")]


@pytest.mark.parametrize("stream", [False, True])
async def test_a_first_byte_past_its_timeout_is_retried_then_falls_back(sim_url, gateway_url, tmp_path, stream):
    sim = await sim_url()
    gateway = await gateway_url(sim, config(tmp_path, "    first_byte_timeout_s: 0.3\n"))
    async with httpx.AsyncClient(timeout=20) as http:
        response = await http.post(gateway + "/chat/completions", json=chat(stream, sim_ttft_ms="800"))
        metrics = (await http.get(gateway.removesuffix("/v1") + "/metrics")).text
    assert response.status_code == 200 and response.headers["x-gateway-model"] == "gpt-4o-mini"
    if stream:
        data = events(response.text)
        assert data[-1] == "[DONE]" and not any('"error"' in event for event in data)
    else:
        assert response.json()["choices"][0]["message"]["content"]
    # gpt-4o: the first call and its 2 retries, each given up after 0.3 s; gpt-4o-mini (5 s) waits its 0.8 s out.
    assert await upstream_models(sim) == ["gpt-4o"] * 3 + ["gpt-4o-mini"]
    assert 'gateway_upstream_retries_total{code="upstream_timeout"} 2' in metrics


async def streamed(sim_url, gateway_url, tmp_path, setting: str, tps: str) -> tuple[str, int, list[str], dict]:
    """A stream through a gateway whose gpt-4o has `setting`, from a simulator at `tps` tokens/s: (sim URL, status,
    SSE data lines, the error object of the last event, or {} when it is not one)."""
    sim = await sim_url()
    gateway = await gateway_url(sim, config(tmp_path, f"    {setting}\n"))
    async with httpx.AsyncClient(timeout=20) as http:
        response = await http.post(gateway + "/chat/completions", json=chat(True, sim_tps=tps))
    data = events(response.text)
    last = httpx.Response(200, content=data[-1]).json() if data[-1] != "[DONE]" else {}
    return sim, response.status_code, data, last.get("error", {})


async def test_a_stream_that_goes_silent_ends_with_an_error_event(sim_url, gateway_url, tmp_path):
    sim, status, data, error = await streamed(sim_url, gateway_url, tmp_path, "stream_idle_timeout_s: 0.3",
                                              "4")  # ~1 s per chunk
    assert status == 200 and data[-1] != "[DONE]"
    assert '"role":"assistant"' in data[0].replace(" ", "")          # the first chunk reached the client...
    # ...then the silence ended the stream
    assert error["code"] == "upstream_timeout" and "went silent for more than 0.3 s" in error["message"]
    assert await upstream_models(sim) == ["gpt-4o"]                  # after the first byte: never retried


async def test_a_stream_past_its_total_timeout_ends_with_an_error_event(sim_url, gateway_url, tmp_path):
    _, _, data, error = await streamed(sim_url, gateway_url, tmp_path, "stream_timeout_s: 0.5", "40")  # ~1 s in all
    assert len(data) > 2 and data[-1] != "[DONE]"                     # chunks came steadily, then the deadline
    assert error["code"] == "upstream_timeout" and "ran past its stream timeout (0.5 s)" in error["message"]


def test_model_timeouts_override_the_providers(tmp_path):
    settings = load_settings(write_config(tmp_path, config(tmp_path, "    first_byte_timeout_s: 0.3\n"
                                                                     "    stream_timeout_s: 120\n")))
    own, inherited = (settings.provider_for(settings.find_model(m)) for m in ("gpt-4o", "gpt-4o-mini"))
    assert (own.first_byte_timeout_s, own.stream_timeout_s, own.name) == (0.3, 120.0, "openai")
    assert (inherited.first_byte_timeout_s, inherited.stream_timeout_s) == (5.0, None)
    with pytest.raises(ConfigError) as error:
        load_settings(write_config(tmp_path, config(tmp_path, "    first_byte_timeout_s: 0\n"
                                                              "    connect_timeout_s: 1\n")))
    assert "models.gpt-4o.first_byte_timeout_s: must be at least 0.001" in str(error.value)
    assert "models.gpt-4o.connect_timeout_s: unknown key" in str(error.value)
