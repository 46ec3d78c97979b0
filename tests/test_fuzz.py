"""Fuzzing the gateway's request handling with hypothesis: whatever a client sends, the answer is an OpenAI-style
error or a normal answer, never a 5xx of our own, never a traceback, never a key.

Bodies are arbitrary JSON, requests with wrong types in every known field, and raw bytes (invalid UTF-8, deep
nesting, huge numbers, duplicate keys). The gateway and simulator are the real processes (`cli_stack`); upstream
errors (502-504) cannot occur here, since the simulator is healthy, so any status >= 500 is the gateway's own.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SECRET = "sk-upstream-secret"  # the upstream key cli_stack's gateway holds
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                               max_size=4), max_leaves=12)
FIELDS = ("model", "messages", "stream", "stream_options", "temperature", "top_p", "n", "max_tokens",
          "max_completion_tokens", "stop", "tools", "tool_choice", "response_format", "seed", "metadata", "user",
          "logprobs", "presence_penalty")
VALID = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Say hi."}], "max_tokens": 8}
RAW = st.sampled_from([b"\xff\xfe not utf-8", b"[" * 5000 + b"]" * 5000, b'{"model": 1e999999}',
                       b'{"model": "gpt-4o-mini", "model": "x", "messages": []}', b"", b"{", b'"just a string"',
                       b'{"messages": [{"role": "user", "content": "\\ud800"}], "model": "gpt-4o-mini"}'])
COMMON = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def check(response: httpx.Response) -> None:
    assert response.status_code < 500, (response.status_code, response.text[:300])
    assert "Traceback" not in response.text and SECRET not in response.text
    if response.status_code >= 400:
        error = response.json()["error"]
        assert set(error) == {"message", "type", "param", "code"}


@pytest.fixture(scope="module")
def http(cli_stack):
    with httpx.Client(base_url=cli_stack["gateway"].url, timeout=20,
                      headers={"x-gateway-cache": "no-store"}) as client:
        yield client


@COMMON
@given(body=JSON)
def test_any_json_body(http, body):
    for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/gateway/evaluate"):
        check(http.post(path, json=body))


@COMMON
@given(field=st.sampled_from(FIELDS), value=JSON)
def test_a_wrong_value_in_any_field(http, field, value):
    body = {**VALID, field: value}
    if field == "stream" and value is True:
        body.pop("stream")  # a valid stream is tested elsewhere; here the answer must be one JSON document
    check(http.post("/v1/chat/completions", json=body))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=RAW, content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]))
def test_raw_bytes(http, raw, content_type):
    check(http.post("/v1/chat/completions", content=raw, headers={"content-type": content_type}))
