"""Every failure reaches the client as an OpenAI error object with the right status, and no key ever leaks."""

from __future__ import annotations

import hashlib
import logging

import httpx
import openai
import pytest

from tests.openapi_schema import validate
from tests.test_gateway_sdk import MESSAGES

CHAT = {"model": "gpt-4o-mini", "messages": MESSAGES}


async def post(url: str, body=None, *, content: bytes | None = None, headers=None, timeout: float = 10):
    async with httpx.AsyncClient(timeout=timeout) as http:
        return await http.post(url + "/chat/completions", json=body if content is None else None,
                               content=content, headers=headers)


def assert_error(response: httpx.Response, status: int, code: str | None, param: str | None = None) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    validate(response.json(), "ErrorResponse")
    assert (error["code"], error["param"]) == (code, param), error
    assert "Traceback" not in error["message"]
    assert response.headers["x-request-id"]
    return error


@pytest.fixture
async def gateway(sim_url, gateway_url):
    return await gateway_url(await sim_url())


@pytest.mark.parametrize("body, code, param", [
    ({"messages": MESSAGES}, "missing_required_parameter", "model"),
    ({"model": "gpt-4o-mini"}, "missing_required_parameter", "messages"),
    ({"model": "gpt-4o-mini", "messages": []}, "empty_array", "messages"),
    ({"model": "gpt-4o-mini", "messages": [{"role": "wizard", "content": "hi"}]}, "invalid_value",
     "messages[0].role"),
    ({"model": "gpt-4o-mini", "messages": [{"role": "user"}]}, "missing_required_parameter", "messages[0].content"),
    ({"model": "gpt-4o-mini", "messages": [{"role": "tool", "content": "x"}]}, "missing_required_parameter",
     "messages[0].tool_call_id"),
    ({**CHAT, "temperature": 3}, "invalid_value", "temperature"),
    ({**CHAT, "temperature": "hot"}, "invalid_type", "temperature"),
    ({**CHAT, "n": 0}, "invalid_value", "n"),
    ({**CHAT, "stream": "yes"}, "invalid_type", "stream"),
    ({**CHAT, "max_completion_tokens": True}, "invalid_type", "max_completion_tokens"),
    ({**CHAT, "stream_options": {"include_usage": True}}, "invalid_value", "stream_options"),
    ({**CHAT, "tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "invalid_value",
     "tools[0].function.name"),
    ({**CHAT, "response_format": {"type": "xml"}}, "invalid_value", "response_format.type"),
    ([1, 2], "invalid_type", None),
])
async def test_invalid_fields_are_named(gateway, body, code, param):
    assert_error(await post(gateway, body), 400, code, param)


async def test_invalid_json_and_empty_body(gateway):
    assert_error(await post(gateway, content=b'{"model": "gpt-4o-mini",'), 400, "invalid_json")
    assert_error(await post(gateway, content=b""), 400, "invalid_json")


async def test_unknown_model_and_unknown_route(gateway):
    assert_error(await post(gateway, {**CHAT, "model": "gpt-9-ultra"}), 404, "model_not_found", "model")
    async with httpx.AsyncClient() as http:
        assert_error(await http.get(gateway + "/nothing-here"), 404, "not_found")


async def test_body_too_large(sim_url, gateway_url):
    gateway = await gateway_url(await sim_url(), "server:\n  max_body_bytes: 2048\n")
    big = {**CHAT, "messages": [{"role": "user", "content": "x" * 5000}]}
    assert_error(await post(gateway, big), 413, "request_too_large")


async def test_client_keys(sim_url, gateway_url, caplog):
    gateway = await gateway_url(await sim_url(), environ={"GATEWAY_API_KEYS": "gk-good-key-123"})
    assert_error(await post(gateway, CHAT), 401, "missing_api_key")
    bad = await post(gateway, CHAT, headers={"Authorization": "Bearer sk-wrong-key-987654"})
    assert_error(bad, 401, "invalid_api_key")
    assert "sk-wrong-key-987654" not in bad.text
    good = await post(gateway, CHAT, headers={"Authorization": "Bearer gk-good-key-123"})
    assert good.status_code == 200
    async with openai.AsyncOpenAI(base_url=gateway, api_key="nope", max_retries=0) as client:
        with pytest.raises(openai.AuthenticationError):
            await client.chat.completions.create(**CHAT)
        assert "gk-good-key-123" not in caplog.text and "sk-wrong-key-987654" not in caplog.text


async def test_client_key_is_never_forwarded_unless_passthrough(sim_url, gateway_url):
    sim = await sim_url(require_key="sk-provider-key")
    closed = await gateway_url(sim, environ={"OPENAI_API_KEY": "sk-provider-key"})
    response = await post(closed, CHAT, headers={"Authorization": "Bearer sk-client-own-key"})
    assert response.status_code == 200
    async with httpx.AsyncClient() as http:
        seen = (await http.get(sim.removesuffix("/v1") + "/sim/requests")).json()[-1]
    assert seen["authorization_sha256"] == hashlib.sha256(b"Bearer sk-provider-key").hexdigest()
    passthrough = await gateway_url(sim, "providers:\n  openai:\n    base_url: http://unused\n"
                                         "    key_passthrough: true\n", environ={"OPENAI_API_KEY": "sk-other"})
    assert (await post(passthrough, CHAT, headers={"Authorization": "Bearer sk-provider-key"})).status_code == 200
    refused = await post(passthrough, CHAT, headers={"Authorization": "Bearer sk-client-wrong-key"})
    error = assert_error(refused, 401, "invalid_api_key")
    assert "sk-client-wrong-key" not in refused.text, error


async def test_rejected_gateway_credentials_are_a_502_without_the_key(sim_url, gateway_url, caplog):
    sim = await sim_url(require_key="sk-right")
    gateway = await gateway_url(sim, environ={"OPENAI_API_KEY": "sk-wrong-upstream-key-555"})
    response = await post(gateway, CHAT)
    assert_error(response, 502, "upstream_auth_failed")
    assert "sk-wrong-upstream-key-555" not in response.text and "sk-wrong-upstream-key-555" not in caplog.text


def with_fault(fault: str, **extra) -> dict:
    return {**CHAT, "metadata": {"sim_fault": fault}, **extra}


@pytest.mark.parametrize("fault, status, code", [
    ("429", 429, None), ("500", 502, "upstream_server_error"), ("503", 503, "upstream_unavailable"),
    ("reset", 502, "upstream_connection_reset"),
])
async def test_upstream_failures_before_the_answer(gateway, fault, status, code):
    response = await post(gateway, with_fault(fault))
    error = assert_error(response, status, code if fault != "429" else response.json()["error"]["code"])
    if fault == "429":
        assert response.headers["retry-after"] == "1" and error["type"] in ("requests", "rate_limit_exceeded",
                                                                            "rate_limit_error")


async def test_upstream_timeout_is_a_504(sim_url, gateway_url):
    gateway = await gateway_url(await sim_url(), "providers:\n  openai:\n    base_url: http://unused\n"
                                                 "    timeout_s: 0.5\n    stream_idle_timeout_s: 0.5\n"
                                                 "    max_retries: 0\n")  # the mapping, not the retries
    assert_error(await post(gateway, with_fault("timeout")), 504, "upstream_timeout")
    response, events = await stream_events(gateway, with_fault("timeout", stream=True))
    assert_error(response, 504, "upstream_timeout")


async def test_unreachable_upstream_is_a_502(gateway_url):
    from tests.conftest import free_port

    gateway = await gateway_url(f"http://127.0.0.1:{free_port()}/v1")
    assert_error(await post(gateway, CHAT), 502, "upstream_unreachable")


async def stream_events(url: str, body: dict) -> tuple[httpx.Response, list[bytes]]:
    async with httpx.AsyncClient(timeout=10) as http:
        async with http.stream("POST", url + "/chat/completions", json=body) as response:
            raw = await response.aread()
    return response, [event for event in raw.split(b"\n\n") if event]


@pytest.mark.parametrize("fault, code", [("stream-cut", "upstream_incomplete"),
                                         ("malformed-chunk", "upstream_malformed_chunk")])
async def test_failure_after_the_stream_started_ends_with_an_error_event(gateway, fault, code):
    body = with_fault(fault, stream=True, metadata={"sim_fault": fault, "sim_fault_after": "3"})
    response, events = await stream_events(gateway, body)
    assert response.status_code == 200
    assert events[-1].startswith(b"data: {\"error\"") and b"[DONE]" not in b"".join(events)
    import json
    error = json.loads(events[-1].removeprefix(b"data: "))["error"]
    assert error["code"] == code and error["type"] == "upstream_error"
    async with openai.AsyncOpenAI(base_url=gateway, api_key="k", max_retries=0) as client:
        with pytest.raises(openai.APIError):
            async for _ in await client.chat.completions.create(**body):
                pass


async def test_sdk_sees_the_right_exception_classes(gateway):
    async with openai.AsyncOpenAI(base_url=gateway, api_key="k", max_retries=0) as client:
        with pytest.raises(openai.RateLimitError):
            await client.chat.completions.create(**with_fault("429"))
        with pytest.raises(openai.InternalServerError):
            await client.chat.completions.create(**with_fault("500"))
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(**{**CHAT, "model": "nope"})
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user"}])
        assert caught.value.param == "messages[0].content"


async def test_readyz_reports_real_redis_and_an_unreachable_one(sim_url, gateway_url, redis_url):
    from tests.conftest import free_port

    sim = await sim_url()
    for url, expected in ((redis_url, ("ok", "ok")), (f"redis://127.0.0.1:{free_port()}/0", ("unreachable",
                                                                                              "degraded"))):
        gateway = await gateway_url(sim, f"redis_url: {url}\n")
        async with httpx.AsyncClient() as http:
            ready = (await http.get(gateway.removesuffix("/v1") + "/readyz")).json()
        assert (ready["redis"], ready["status"]) == expected
        assert ready["tokenizers"]["o200k_base"]["source"] in ("tiktoken", "bpe-openai", "heuristic")


async def test_errors_never_log_keys(sim_url, gateway_url, caplog):
    caplog.set_level(logging.DEBUG)
    gateway = await gateway_url(await sim_url(), environ={"OPENAI_API_KEY": "sk-live-secret-abcdef"})
    for fault in ("500", "503", "reset"):
        await post(gateway, with_fault(fault), headers={"Authorization": "Bearer sk-client-secret-xyz"})
    assert "sk-live-secret-abcdef" not in caplog.text and "sk-client-secret-xyz" not in caplog.text
