"""The official `openai` SDK pointed at the gateway gets what it would get from the upstream itself, plus exact costs."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import httpx
import openai
import pytest

from gateway.config.settings import load_settings
from tests.openapi_schema import validate

CATALOG = load_settings(None, environ={})
MESSAGES = [{"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "Explain in two sentences why the sky is blue."}]
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                   "required": ["city"]}}}


def expected_cost(model: str, usage) -> Decimal:
    """The catalog price of a usage, in exact decimal arithmetic."""
    spec = CATALOG.find_model(model)
    cached = (usage.prompt_tokens_details.cached_tokens or 0) if usage.prompt_tokens_details else 0
    return (Decimal(usage.prompt_tokens - cached) * Decimal(str(spec.input_per_million))
            + Decimal(cached) * Decimal(str(spec.cached_input_per_million))
            + Decimal(usage.completion_tokens) * Decimal(str(spec.output_per_million))) / Decimal(1_000_000)


def shape(value):
    """The structure of a JSON value: keys and types, not contents."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


@pytest.fixture
async def stack(sim_url, gateway_url):
    sim = await sim_url()
    gateway = await gateway_url(sim)
    yield {"sim": sim, "gateway": gateway}


def sync_clients(cli_stack):
    """Through the gateway under the `as-asked` policy (picked per request), and straight to the simulator."""
    return (openai.OpenAI(base_url=cli_stack["gateway"].url + "/v1", api_key="client-key", max_retries=0,
                          default_headers={"x-gateway-policy": "as-asked"}),
            openai.OpenAI(base_url=cli_stack["sim"].url + "/v1", api_key="client-key", max_retries=0))


def test_sync_sdk_answer_matches_the_simulator_and_costs_are_exact(cli_stack):
    via_gateway, direct = sync_clients(cli_stack)
    raw = via_gateway.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=MESSAGES)
    answer = raw.parse()
    reference = direct.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert answer.choices[0].message.content == reference.choices[0].message.content
    assert shape(answer.model_dump(exclude_unset=True)) == shape(reference.model_dump(exclude_unset=True))
    assert answer.usage.model_dump() == reference.usage.model_dump()
    validate(answer.model_dump(exclude_unset=True), "CreateChatCompletionResponse")
    cost = expected_cost("gpt-4o-mini", answer.usage)
    assert Decimal(raw.headers["x-gateway-cost-usd"]) == cost.quantize(Decimal("1e-10"))
    assert Decimal(raw.headers["x-gateway-baseline-cost-usd"]) == Decimal(raw.headers["x-gateway-cost-usd"])
    assert raw.headers["x-gateway-saved-usd"] == "0"
    assert (raw.headers["x-gateway-route"], raw.headers["x-gateway-model"], raw.headers["x-gateway-cache"]) == (
        "main", "gpt-4o-mini", "miss")
    assert raw.headers["x-request-id"].startswith("req_")


def test_sync_sdk_stream_matches_the_simulator(cli_stack):
    via_gateway, direct = sync_clients(cli_stack)
    kwargs = dict(model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True})
    chunks = list(via_gateway.chat.completions.create(**kwargs))
    reference = list(direct.chat.completions.create(**kwargs))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "".join(c.choices[0].delta.content or "" for c in reference if c.choices)
    assert chunks[-1].choices == [] and chunks[-1].usage == reference[-1].usage
    assert [shape(c.model_dump(exclude_unset=True)) for c in chunks] == [
        shape(c.model_dump(exclude_unset=True)) for c in reference]


def test_client_request_id_is_kept_and_upstream_key_is_the_gateways(cli_stack):
    via_gateway, _ = sync_clients(cli_stack)
    httpx.delete(cli_stack["sim"].url + "/sim/requests")
    raw = via_gateway.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES, extra_headers={"x-request-id": "trace-42", "x-gateway-cache": "no-cache"})
    assert raw.headers["x-request-id"] == "trace-42"
    log = httpx.get(cli_stack["sim"].url + "/sim/requests").json()
    assert isinstance(log, list), log
    seen = log[-1]
    assert seen["authorization_sha256"] == hashlib.sha256(b"Bearer sk-upstream-secret").hexdigest()


async def test_async_sdk_non_stream_with_n_tools_and_json(stack):
    async with openai.AsyncOpenAI(base_url=stack["gateway"], api_key="k", max_retries=0) as client:
        several = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, n=3)
        assert [choice.index for choice in several.choices] == [0, 1, 2]
        called = await client.chat.completions.create(model="gpt-4o", messages=[
            {"role": "user", "content": "What's the weather in Paris?"}], tools=[WEATHER_TOOL], tool_choice="required")
        call = called.choices[0].message.tool_calls[0]
        assert called.choices[0].finish_reason == "tool_calls" and call.function.name == "get_weather"
        assert "city" in __import__("json").loads(call.function.arguments)
        validate(called.model_dump(exclude_unset=True), "CreateChatCompletionResponse")
        as_json = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                                       response_format={"type": "json_object"})
        assert isinstance(__import__("json").loads(as_json.choices[0].message.content), dict)
        capped = await client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                                      max_completion_tokens=5)
        assert capped.choices[0].finish_reason == "length" and capped.usage.completion_tokens <= 5


async def test_async_sdk_stream_with_tool_call_deltas(stack):
    async with openai.AsyncOpenAI(base_url=stack["gateway"], api_key="k", max_retries=0) as client:
        stream = await client.chat.completions.create(model="gpt-4o", messages=[
            {"role": "user", "content": "Weather in Oslo?"}], tools=[WEATHER_TOOL], stream=True)
        arguments, name = "", None
        async for chunk in stream:
            validate(chunk.model_dump(exclude_unset=True), "CreateChatCompletionStreamResponse")
            for call in (chunk.choices[0].delta.tool_calls or []) if chunk.choices else []:
                name = name or call.function.name
                arguments += call.function.arguments or ""
        assert name == "get_weather" and "city" in __import__("json").loads(arguments)


async def test_models_list_and_embeddings(stack):
    async with openai.AsyncOpenAI(base_url=stack["gateway"], api_key="k", max_retries=0) as client:
        models = [model.id async for model in client.models.list()]
        assert "gpt-4o-mini" in models and "gpt-4o-mini-2024-07-18" not in models
        raw = await client.embeddings.with_raw_response.create(model="text-embedding-3-small",
                                                               input=["hello world", "bonjour"])
        result = raw.parse()
        assert len(result.data) == 2 and len(result.data[0].embedding) == 1536
        expected = Decimal(result.usage.prompt_tokens) * Decimal("0.02") / Decimal(1_000_000)
        assert Decimal(raw.headers["x-gateway-cost-usd"]) == expected


async def test_alias_is_sent_upstream_as_the_catalog_name(sim_url, gateway_url):
    sim = await sim_url()
    gateway = await gateway_url(sim, "models:\n  gpt-4o-mini:\n    aliases: [cheap]\n")
    async with openai.AsyncOpenAI(base_url=gateway, api_key="k", max_retries=0) as client:
        raw = await client.chat.completions.with_raw_response.create(model="cheap", messages=MESSAGES)
        assert raw.headers["x-gateway-model"] == "gpt-4o-mini"
        async with httpx.AsyncClient() as http:
            seen = (await http.get(sim.removesuffix("/v1") + "/sim/requests")).json()[-1]
        assert seen["model"] == "gpt-4o-mini"
