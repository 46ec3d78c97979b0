"""The simulated upstream, checked with the real OpenAI SDK, raw HTTP bytes and the official OpenAPI schemas."""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import struct
import time
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from openai import AsyncOpenAI

from gateway.accounting.tokens import counter_for_model
from gateway.sim import FAULT_NAMES, SimOptions, add_sim_arguments, build_sim_app, options_from_args
from gateway.sim.latency import LARGE, SMALL, profile_for_model, timing_for
from gateway.sim.replay import ReplayStore
from tests.openapi_schema import validate

FAST = {"x-sim-ttft-ms": "0", "x-sim-tps": "0"}
USER = [{"role": "user", "content": "Explain how a heat pump moves heat out of a cold room."}]
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather for a city",
    "parameters": {"type": "object", "properties": {
        "location": {"type": "string"}, "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        "days": {"type": "integer", "minimum": 1, "maximum": 7}, "detailed": {"type": "boolean"}},
        "required": ["location", "unit", "days"]}}}
ARENA_PROMPT = "What is the  equation of a line\nthrough (2, 3)?"
ALPACA_PROMPT = "Name three primary colors."


class Sim:
    """One running simulator with an SDK client and a raw HTTP client pointed at it."""

    def __init__(self, server: Any, api_key: str = "sk-test") -> None:
        self.server = server
        self.base_url = str(server.make_url("/v1"))
        self.client = AsyncOpenAI(base_url=self.base_url, api_key=api_key, max_retries=0)
        self.http = httpx.AsyncClient(base_url=str(server.make_url("")), timeout=10)

    async def post(self, path: str, body: dict[str, Any], **headers: str) -> httpx.Response:
        return await self.http.post(path, json=body, headers=headers)

    async def stream_events(self, body: dict[str, Any], **headers: str) -> tuple[httpx.Response, bytes, list[Any]]:
        """Raw SSE bytes and the decoded `data:` payloads ([DONE] kept as the string)."""
        async with self.http.stream("POST", "/v1/chat/completions", json={**body, "stream": True},
                                    headers=headers) as response:
            raw = await response.aread()
        assert raw.endswith(b"\n\n")
        events = []
        for block in raw.decode().split("\n\n")[:-1]:
            assert block.startswith("data: "), block
            payload = block[len("data: "):]
            events.append(payload if payload == "[DONE]" else json.loads(payload))
        return response, raw, events

    async def close(self) -> None:
        await self.client.close()
        await self.http.aclose()


@pytest.fixture
async def start_sim(aiohttp_server):
    started: list[Sim] = []

    async def start(api_key: str = "sk-test", **options: Any) -> Sim:
        options.setdefault("latency", False)
        sim = Sim(await aiohttp_server(build_sim_app(SimOptions(**options))), api_key)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        await sim.close()


@pytest.fixture
async def sim(start_sim) -> Sim:
    return await start_sim()


@pytest.fixture
def replay_file(tmp_path: Path) -> Path:
    rows = [
        {"question_id": "q1", "prompt": ARENA_PROMPT,
         "answers": {"gpt-4o-mini-2024-07-18": "Arena answer from mini.", "gpt4_1106_preview": "GPT-4 turbo answer.",
                     "mistralai/Mixtral-8x7B-Instruct-v0.1": "Mixtral answer."}},
        {"idx": 1, "prompt": ALPACA_PROMPT, "outputs": {"claude-2.1": "Red, yellow and blue.", "gpt-3.5-turbo": None}},
    ]
    path = tmp_path / "replay" / "mini.jsonl"
    path.parent.mkdir()
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n\nnot json\n")
    return path


# --- chat completions: shapes, usage, determinism ---------------------------------------------------------------

async def test_non_streaming_shape_and_true_usage(sim: Sim) -> None:
    response = await sim.post("/v1/chat/completions", {"model": "gpt-4o", "messages": USER})
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    body = response.json()
    validate(body, "CreateChatCompletionResponse")
    assert body["id"].startswith("chatcmpl-") and body["object"] == "chat.completion"
    assert body["model"] == "gpt-4o" and body["service_tier"] == "default"
    assert body["system_fingerprint"].startswith("fp_") and isinstance(body["created"], int)
    [choice] = body["choices"]
    assert choice["index"] == 0 and choice["logprobs"] is None and choice["finish_reason"] == "stop"
    assert choice["message"] == {"role": "assistant", "content": choice["message"]["content"], "refusal": None}
    counter = counter_for_model("gpt-4o")
    usage = body["usage"]
    assert usage == {
        "prompt_tokens": counter.count_messages(USER),
        "completion_tokens": counter.count(choice["message"]["content"]),
        "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"],
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0, "accepted_prediction_tokens": 0,
                                      "rejected_prediction_tokens": 0},
    }
    assert 20 <= usage["completion_tokens"] <= 700
    assert response.headers["x-sim-replay"] == "miss"


async def test_answers_are_deterministic_and_vary_by_model_and_seed(start_sim) -> None:
    sim, same_seed, other_seed = await start_sim(), await start_sim(), await start_sim(seed=7)

    async def answer(s: Sim, model: str, messages: list[dict[str, Any]] = USER) -> str:
        result = await s.client.chat.completions.create(model=model, messages=messages)
        return result.choices[0].message.content

    first = await answer(sim, "gpt-4o")
    assert first == await answer(sim, "gpt-4o") == await answer(same_seed, "gpt-4o")  # not just a cache hit
    assert first != await answer(other_seed, "gpt-4o")
    assert first != await answer(sim, "gpt-4-turbo")
    assert first != await answer(sim, "gpt-4o", [{"role": "user", "content": "Tell me about tides."}])
    lengths = {"small": [], "large": []}
    for i in range(12):
        messages = [{"role": "user", "content": f"Question number {i} about databases"}]
        lengths["small"].append(len(await answer(sim, "gpt-4o-mini", messages)))
        lengths["large"].append(len(await answer(sim, "gpt-4", messages)))
    assert sum(lengths["small"]) < sum(lengths["large"])
    assert len(set(lengths["large"])) > 6  # lengths vary by prompt


async def test_stream_bytes_match_openai(sim: Sim) -> None:
    plain = (await sim.post("/v1/chat/completions", {"model": "gpt-4o-mini", "messages": USER})).json()
    response, raw, events = await sim.stream_events({"model": "gpt-4o-mini", "messages": USER})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert events[-1] == "[DONE]" and raw.endswith(b"data: [DONE]\n\n")
    chunks = events[:-1]
    assert len({c["id"] for c in chunks}) == 1 and len({c["created"] for c in chunks}) == 1
    assert chunks[0]["id"].startswith("chatcmpl-")
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
        assert chunk["object"] == "chat.completion.chunk" and chunk["model"] == "gpt-4o-mini"
        assert "usage" not in chunk and len(chunk["choices"]) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    deltas = [c["choices"][0]["delta"]["content"] for c in chunks[1:-1]]
    assert len(deltas) > 5 and all(deltas)
    assert "".join(deltas) == plain["choices"][0]["message"]["content"]
    assert chunks[-1]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}


async def test_stream_include_usage(sim: Sim) -> None:
    body = {"model": "gpt-4o", "messages": USER, "stream_options": {"include_usage": True}}
    _, _, events = await sim.stream_events(body)
    chunks = events[:-1]
    assert all(c["usage"] is None for c in chunks[:-1])
    last = chunks[-1]
    validate(last, "CreateChatCompletionStreamResponse")
    assert last["choices"] == [] and last["usage"]["total_tokens"] > 0
    plain = (await sim.post("/v1/chat/completions", {"model": "gpt-4o", "messages": USER})).json()
    assert last["usage"] == plain["usage"]
    # The SDK sees the same.
    stream = await sim.client.chat.completions.create(model="gpt-4o", messages=USER, stream=True,
                                                      stream_options={"include_usage": True})
    usages = [chunk.usage async for chunk in stream if chunk.usage is not None]
    assert [u.completion_tokens for u in usages] == [plain["usage"]["completion_tokens"]]


async def test_n_choices_in_both_modes(sim: Sim) -> None:
    result = await sim.client.chat.completions.create(model="gpt-4o", messages=USER, n=2)
    assert [c.index for c in result.choices] == [0, 1]
    texts = [c.message.content for c in result.choices]
    assert texts[0] != texts[1]
    counter = counter_for_model("gpt-4o")
    assert result.usage.completion_tokens == sum(counter.count(t) for t in texts)
    stream = await sim.client.chat.completions.create(model="gpt-4o", messages=USER, n=2, stream=True)
    streamed = {0: "", 1: ""}
    finished = set()
    async for chunk in stream:
        for choice in chunk.choices:
            streamed[choice.index] += choice.delta.content or ""
            if choice.finish_reason:
                finished.add(choice.index)
    assert streamed == {0: texts[0], 1: texts[1]} and finished == {0, 1}


async def test_max_tokens_truncates_with_length(sim: Sim) -> None:
    counter = counter_for_model("gpt-4o")
    for field in ("max_tokens", "max_completion_tokens"):
        result = await sim.client.chat.completions.create(model="gpt-4o", messages=USER, **{field: 7})
        choice = result.choices[0]
        assert choice.finish_reason == "length"
        assert result.usage.completion_tokens == counter.count(choice.message.content) == 7
    _, _, events = await sim.stream_events({"model": "gpt-4o", "messages": USER, "max_tokens": 7})
    assert events[-2]["choices"][0]["finish_reason"] == "length"
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events[:-1]) == choice.message.content


async def test_stop_sequence_cuts_answer(sim: Sim) -> None:
    full = (await sim.client.chat.completions.create(model="gpt-4o", messages=USER)).choices[0].message.content
    word = full.split()[3]
    cut = (await sim.client.chat.completions.create(model="gpt-4o", messages=USER, stop=[word])).choices[0]
    assert cut.message.content == full[:full.index(word)] and cut.finish_reason == "stop"


# --- tools and structured output -------------------------------------------------------------------------------

async def test_tool_call_non_streaming(sim: Sim) -> None:
    messages = [{"role": "user", "content": "What is the weather in Oslo?"}]
    response = await sim.post("/v1/chat/completions", {"model": "gpt-4o", "messages": messages,
                                                       "tools": [WEATHER_TOOL]})
    body = response.json()
    validate(body, "CreateChatCompletionResponse")
    choice = body["choices"][0]
    assert choice["finish_reason"] == "tool_calls" and choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["id"].startswith("call_") and call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    args = json.loads(call["function"]["arguments"])
    assert isinstance(args["location"], str) and args["unit"] == "celsius" and 1 <= args["days"] <= 7
    counter = counter_for_model("gpt-4o")
    tools_tokens = counter.count(json.dumps([WEATHER_TOOL], separators=(",", ":")))
    assert body["usage"]["prompt_tokens"] == counter.count_messages(messages) + tools_tokens
    # After the tool answered, or with tool_choice none, the model answers in text.
    follow_up = messages + [choice["message"], {"role": "tool", "tool_call_id": call["id"], "content": "12 C"}]
    for extra in ({"messages": follow_up}, {"messages": messages, "tool_choice": "none"}):
        text = (await sim.post("/v1/chat/completions", {"model": "gpt-4o", "tools": [WEATHER_TOOL], **extra})).json()
        assert text["choices"][0]["finish_reason"] == "stop" and text["choices"][0]["message"]["content"]
    # A named function is called even when the last message is not from the user.
    other = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    named = await sim.client.chat.completions.create(
        model="gpt-4o", messages=follow_up, tools=[WEATHER_TOOL, other],
        tool_choice={"type": "function", "function": {"name": "lookup"}})
    assert named.choices[0].message.tool_calls[0].function.name == "lookup"
    assert named.choices[0].message.tool_calls[0].function.arguments == "{}"


async def test_tool_call_streaming_like_openai(sim: Sim) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Weather in Rome?"}],
            "tools": [WEATHER_TOOL], "tool_choice": "required"}
    plain = (await sim.post("/v1/chat/completions", body)).json()["choices"][0]["message"]["tool_calls"][0]
    _, _, events = await sim.stream_events(body)
    chunks = events[:-1]
    for chunk in chunks:
        validate(chunk, "CreateChatCompletionStreamResponse")
    first = chunks[0]["choices"][0]["delta"]
    assert first["role"] == "assistant" and first["content"] is None
    assert first["tool_calls"] == [{"index": 0, "id": plain["id"], "type": "function",
                                    "function": {"name": "get_weather", "arguments": ""}}]
    fragments = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:-1]]
    assert len(fragments) > 1 and all(set(f) == {"index", "function"} for f in fragments)
    assert "".join(f["function"]["arguments"] for f in fragments) == plain["function"]["arguments"]
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    # The SDK accumulates the same call.
    stream = await sim.client.chat.completions.create(**body, stream=True)
    arguments = "".join([c.choices[0].delta.tool_calls[0].function.arguments async for c in stream
                         if c.choices and c.choices[0].delta.tool_calls])
    assert json.loads(arguments) == json.loads(plain["function"]["arguments"])


async def test_json_response_formats(sim: Sim) -> None:
    result = await sim.client.chat.completions.create(model="gpt-4o", messages=USER,
                                                      response_format={"type": "json_object"})
    assert isinstance(json.loads(result.choices[0].message.content), dict)
    schema = {"type": "object", "additionalProperties": False, "required": ["title", "score", "tags", "author"],
              "properties": {"title": {"type": "string"}, "score": {"type": "number", "minimum": 0, "maximum": 1},
                             "tags": {"type": "array", "items": {"type": "string"}},
                             "author": {"$ref": "#/$defs/person"}},
              "$defs": {"person": {"type": "object", "required": ["name", "age"],
                                   "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}}}
    result = await sim.client.chat.completions.create(
        model="gpt-4o", messages=USER,
        response_format={"type": "json_schema", "json_schema": {"name": "review", "strict": True, "schema": schema}})
    value = json.loads(result.choices[0].message.content)
    import jsonschema

    jsonschema.validate(value, schema)
    assert set(value) == {"title", "score", "tags", "author"}


# --- replay ----------------------------------------------------------------------------------------------------

async def test_replay_hit_prompt_only_and_miss(start_sim, replay_file: Path) -> None:
    sim = await start_sim(replay_paths=[str(replay_file.parent)])

    async def ask(model: str, prompt: str) -> tuple[str, str]:
        raw = await sim.client.chat.completions.with_raw_response.create(
            model=model, messages=[{"role": "system", "content": "Be helpful."}, {"role": "user", "content": prompt}])
        return raw.headers["x-sim-replay"], raw.parse().choices[0].message.content

    spaced = "  What is the equation   of a line through (2, 3)? "
    assert await ask("gpt-4o-mini", spaced) == ("hit", "Arena answer from mini.")
    assert await ask("openai/GPT-4o-mini-2024-07-18", ARENA_PROMPT) == ("hit", "Arena answer from mini.")
    assert await ask("gpt-4-1106-preview", ARENA_PROMPT) == ("hit", "GPT-4 turbo answer.")
    assert await ask("mixtral-8x7b-instruct-v0.1", ARENA_PROMPT) == ("hit", "Mixtral answer.")
    assert await ask("claude_2.1", ALPACA_PROMPT) == ("hit", "Red, yellow and blue.")
    status, text = await ask("gpt-4o", ARENA_PROMPT)
    assert status == "prompt-only" and text not in ("Arena answer from mini.", "GPT-4 turbo answer.")
    assert (await ask("gpt-3.5-turbo", ALPACA_PROMPT))[0] == "prompt-only"  # null answers are not recorded
    assert (await ask("gpt-4o-mini", "Something never recorded"))[0] == "miss"
    # Replayed answers are billed at their true length and stream like generated ones.
    result = await sim.client.chat.completions.create(model="gpt-4o-mini",
                                                      messages=[{"role": "user", "content": ARENA_PROMPT}])
    assert result.usage.completion_tokens == counter_for_model("gpt-4o-mini").count("Arena answer from mini.")
    models = [m.id async for m in sim.client.models.list()]
    assert "gpt4_1106_preview" in models and "claude-2.1" in models and "gpt-4o" in models


def test_replay_of_shared_dev_sets_loads_fast() -> None:
    folder = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "replay"
    if not folder.is_dir():
        pytest.skip("shared replay data not present")
    store = ReplayStore([str(folder)])
    started = time.perf_counter()
    store.load()
    assert time.perf_counter() - started < 1.0
    assert store.rows > 700
    with next(iter(sorted(folder.glob("alpaca*.jsonl")))).open() as handle:
        row = json.loads(handle.readline())
    assert store.lookup(row["prompt"], "gpt-4o-mini")[1] == row["outputs"]["gpt-4o-mini-2024-07-18"]


# --- embeddings and models -------------------------------------------------------------------------------------

async def test_embeddings(sim: Sim) -> None:
    raw = await sim.post("/v1/embeddings", {"model": "text-embedding-3-small", "input": ["hello world", "bye"]})
    body = raw.json()
    validate(body, "CreateEmbeddingResponse")
    assert [d["index"] for d in body["data"]] == [0, 1] and body["model"] == "text-embedding-3-small"
    first, second = (d["embedding"] for d in body["data"])
    assert len(first) == 1536 and abs(math.hypot(*first) - 1) < 1e-4
    assert abs(sum(a * b for a, b in zip(first, second))) < 0.2
    counter = counter_for_model("text-embedding-3-small")
    assert body["usage"] == {"prompt_tokens": counter.count("hello world") + counter.count("bye"),
                             "total_tokens": counter.count("hello world") + counter.count("bye")}
    # The SDK asks for base64 by default and decodes it; same vector.
    result = await sim.client.embeddings.create(model="text-embedding-3-small", input="hello world")
    assert result.data[0].embedding == pytest.approx(first, abs=1e-6)
    short = await sim.client.embeddings.create(model="text-embedding-3-small", input="hello world", dimensions=256)
    assert len(short.data[0].embedding) == 256 and abs(math.hypot(*short.data[0].embedding) - 1) < 1e-4
    large = (await sim.post("/v1/embeddings", {"model": "text-embedding-3-large", "input": "x",
                                               "encoding_format": "base64"})).json()
    assert len(base64.b64decode(large["data"][0]["embedding"])) == 3072 * 4
    assert struct.unpack("<f", base64.b64decode(large["data"][0]["embedding"])[:4])[0] != 0
    bad = await sim.post("/v1/embeddings", {"model": "text-embedding-3-small"})
    assert bad.status_code == 400 and bad.json()["error"]["param"] == "input"


async def test_models_list(sim: Sim) -> None:
    body = (await sim.http.get("/v1/models")).json()
    validate(body, "ListModelsResponse")
    ids = [m["id"] for m in body["data"]]
    assert "gpt-4o-mini" in ids and "text-embedding-3-small" in ids


# --- faults ----------------------------------------------------------------------------------------------------

async def test_status_faults_by_header_metadata_and_rate(start_sim) -> None:
    sim = await start_sim()
    raw = await sim.post("/v1/chat/completions", {"model": "gpt-4o", "messages": USER}, **{"x-sim-fault": "429"})
    assert raw.status_code == 429 and raw.headers["retry-after"] == "1"
    assert raw.headers["x-ratelimit-remaining-requests"] == "0"
    validate(raw.json(), "ErrorResponse")
    assert raw.json()["error"]["code"] == "rate_limit_exceeded"
    expected = {"429": openai.RateLimitError, "500": openai.InternalServerError, "503": openai.InternalServerError}
    for name, error in expected.items():
        with pytest.raises(error) as caught:
            await sim.client.chat.completions.create(model="gpt-4o", messages=USER, metadata={"sim_fault": name})
        assert caught.value.status_code == int(name)
        validate(caught.value.response.json(), "ErrorResponse")
    with pytest.raises(openai.BadRequestError):
        await sim.client.chat.completions.create(model="gpt-4o", messages=USER, metadata={"sim_fault": "nope"})
    always = await start_sim(fault_rates={"500": 1.0})
    with pytest.raises(openai.InternalServerError):
        await always.client.embeddings.create(model="text-embedding-3-small", input="x")
    half = await start_sim(fault_rates={"503": 0.5}, seed=3)
    statuses = [(await half.post("/v1/chat/completions", {"model": "m", "messages": USER})).status_code
                for _ in range(40)]
    assert 8 <= statuses.count(503) <= 32 and statuses.count(200) + statuses.count(503) == 40


async def test_reset_and_timeout_faults(sim: Sim) -> None:
    with pytest.raises(openai.APIConnectionError) as caught:
        await sim.client.chat.completions.create(model="gpt-4o", messages=USER, metadata={"sim_fault": "reset"})
    assert not isinstance(caught.value, openai.APITimeoutError)
    with pytest.raises(httpx.TransportError):
        await sim.post("/v1/chat/completions", {"model": "gpt-4o", "messages": USER}, **{"x-sim-fault": "reset"})
    started = time.perf_counter()
    with pytest.raises(openai.APITimeoutError):
        await sim.client.chat.completions.create(model="gpt-4o", messages=USER, metadata={"sim_fault": "timeout"},
                                                 timeout=0.3)
    assert time.perf_counter() - started < 2
    # The simulator keeps serving after the faults.
    assert (await sim.client.chat.completions.create(model="gpt-4o", messages=USER)).choices


async def test_stream_cut(sim: Sim) -> None:
    stream = await sim.client.chat.completions.create(
        model="gpt-4o", messages=USER, stream=True, metadata={"sim_fault": "stream-cut", "sim_fault_after": "4"})
    received = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk)
    assert len(received) == 4
    with pytest.raises(httpx.TransportError):
        await sim.post("/v1/chat/completions", {"model": "gpt-4o", "messages": USER}, **{"x-sim-fault": "stream-cut"})
    with pytest.raises(openai.APIConnectionError):
        await sim.client.chat.completions.create(model="gpt-4o", messages=USER, metadata={"sim_fault": "stream-cut"})


async def test_malformed_chunk(sim: Sim) -> None:
    body = {"model": "gpt-4o", "messages": USER, "metadata": {"sim_fault": "malformed-chunk", "sim_fault_after": "2"}}
    async with sim.http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}) as response:
        raw = (await response.aread()).decode()
    blocks = raw.split("\n\n")[:-1]
    assert blocks[-1] == "data: [DONE]"
    broken = [i for i, b in enumerate(blocks) if b != "data: [DONE]" and not _is_json(b[len("data: "):])]
    assert broken == [2] and blocks[2].startswith('data: {"id": "chatcmpl-')
    stream = await sim.client.chat.completions.create(**{**body, "stream": True})
    seen = 0
    with pytest.raises(ValueError):  # json.JSONDecodeError from the SDK's SSE decoder
        async for _ in stream:
            seen += 1
    assert seen == 2


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# --- keys, request log, validation ------------------------------------------------------------------------------

async def test_require_key_and_request_log_hashing(start_sim) -> None:
    sim = await start_sim(api_key="sk-right", require_key="sk-right")
    wrong = AsyncOpenAI(base_url=sim.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        await wrong.chat.completions.create(model="gpt-4o", messages=USER)
    await wrong.close()
    validate(caught.value.response.json(), "ErrorResponse")
    assert "sk-wrong" not in caught.value.response.text
    assert (await sim.http.get("/v1/models")).status_code == 401
    assert (await sim.client.chat.completions.create(model="gpt-4o", messages=USER)).choices
    log = (await sim.http.get("/sim/requests")).json()
    assert [e["authorization_sha256"] for e in log] == [
        hashlib.sha256(b"Bearer sk-wrong").hexdigest(), None, hashlib.sha256(b"Bearer sk-right").hexdigest()]
    assert log[-1]["path"] == "/v1/chat/completions" and log[-1]["model"] == "gpt-4o"
    assert log[-1]["body"]["messages"] == USER
    text = (await sim.http.get("/sim/requests")).text
    assert "sk-right" not in text and "sk-wrong" not in text
    assert (await sim.http.delete("/sim/requests")).status_code == 200
    assert (await sim.http.get("/sim/requests")).json() == []


async def test_request_log_keeps_last_50(sim: Sim) -> None:
    for i in range(55):
        await sim.post("/v1/chat/completions", {"model": f"m{i}", "messages": USER})
    log = (await sim.http.get("/sim/requests")).json()
    assert len(log) == 50 and log[0]["model"] == "m5" and log[-1]["model"] == "m54"


async def test_invalid_requests(sim: Sim) -> None:
    for body, param in (({"messages": USER}, "model"), ({"model": "gpt-4o"}, "messages"),
                        ({"model": "gpt-4o", "messages": USER, "n": 0}, "n")):
        raw = await sim.post("/v1/chat/completions", body)
        assert raw.status_code == 400
        validate(raw.json(), "ErrorResponse")
        assert raw.json()["error"]["type"] == "invalid_request_error" and raw.json()["error"]["param"] == param
    raw = await sim.http.post("/v1/chat/completions", content=b"{not json", headers={"content-type": "application/json"})
    assert raw.status_code == 400 and raw.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError):
        await sim.client.chat.completions.create(model="gpt-4o", messages=[])
    assert (await sim.http.get("/v1/nothing")).status_code == 404


# --- prompt caching and latency ---------------------------------------------------------------------------------

async def test_prompt_cache_reports_cached_prefix(sim: Sim) -> None:
    long_system = {"role": "system", "content": " ".join(f"Rule {i}: keep answers short and kind." for i in range(200))}
    first = [long_system, {"role": "user", "content": "first question"}]
    result = await sim.client.chat.completions.create(model="gpt-4o", messages=first)
    prompt_tokens = result.usage.prompt_tokens
    assert prompt_tokens > 1500 and result.usage.prompt_tokens_details.cached_tokens == 0
    again = await sim.client.chat.completions.create(model="gpt-4o", messages=first)
    cached = again.usage.prompt_tokens_details.cached_tokens
    assert cached >= 1024 and (cached - 1024) % 128 == 0 and prompt_tokens - 128 < cached <= prompt_tokens
    follow = first + [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "second question"}]
    longer = await sim.client.chat.completions.create(model="gpt-4o", messages=follow)
    assert 1024 <= longer.usage.prompt_tokens_details.cached_tokens <= prompt_tokens
    other_model = await sim.client.chat.completions.create(model="gpt-4o-mini", messages=first)
    assert other_model.usage.prompt_tokens_details.cached_tokens == 0
    short = [{"role": "user", "content": "hi"}]
    for _ in range(2):
        assert (await sim.client.chat.completions.create(model="gpt-4o", messages=short)
                ).usage.prompt_tokens_details.cached_tokens == 0


async def test_latency_is_simulated(start_sim) -> None:
    sim = await start_sim(latency=True)
    started = time.perf_counter()
    await sim.client.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=20,
                                             extra_headers={"x-sim-ttft-ms": "150", "x-sim-tps": "400"})
    assert 0.15 + 20 / 400 * 0.8 <= time.perf_counter() - started < 1.0
    started = time.perf_counter()
    stream = await sim.client.chat.completions.create(model="gpt-4o", messages=USER, max_tokens=40, stream=True,
                                                      metadata={"sim_ttft_ms": "120", "sim_tps": "400"})
    arrivals = [time.perf_counter() - started async for _ in stream]
    assert arrivals[0] >= 0.11 and arrivals[-1] - arrivals[0] >= 40 / 400 * 0.7
    # Profiles: small models start sooner and decode faster; speed scales both.
    assert profile_for_model("gpt-4o-mini") is SMALL and profile_for_model("mistralai/Mistral-7B-v0.1") is SMALL
    assert profile_for_model("gpt-4") is LARGE
    options = SimOptions()
    small, large = timing_for("gpt-4o-mini", options, {}, {}, 0), timing_for("gpt-4", options, {}, {}, 0)
    assert small.ttft_s < large.ttft_s and small.tokens_per_s > large.tokens_per_s
    fast = timing_for("gpt-4", SimOptions(speed=2.0), {}, {}, 0)
    assert fast.ttft_s == pytest.approx(large.ttft_s / 2) and fast.tokens_per_s == large.tokens_per_s * 2
    assert timing_for("gpt-4", SimOptions(latency=False), {}, {}, 0).total_s(500) == 0


# --- options and CLI --------------------------------------------------------------------------------------------

def test_cli_arguments(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    parser = argparse.ArgumentParser()
    add_sim_arguments(parser)
    monkeypatch.delenv("GATEWAY_DATA_DIR", raising=False)
    args = parser.parse_args([])
    assert (args.host, args.port) == ("127.0.0.1", 8090)
    assert options_from_args(args).replay_paths == [] and options_from_args(args).latency is True
    (tmp_path / "replay").mkdir()
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path))
    assert options_from_args(parser.parse_args([])).replay_paths == [str(tmp_path / "replay")]
    args = parser.parse_args(["--no-latency", "--speed", "3", "--replay", "a.jsonl", "--replay", "b",
                              "--fault-rate", "429=0.1", "--fault-rate", "reset=0.05", "--seed", "9",
                              "--require-key", "k", "--port", "0"])
    options = options_from_args(args)
    assert options.latency is False and options.speed == 3 and options.replay_paths == ["a.jsonl", "b"]
    assert options.fault_rates == {"429": 0.1, "reset": 0.05} and options.seed == 9 and options.require_key == "k"
    with pytest.raises(SystemExit):
        parser.parse_args(["--fault-rate", "explode=0.1"])
    with pytest.raises(ValueError):
        SimOptions(fault_rates={"explode": 0.1})
    assert set(FAULT_NAMES) == {"429", "500", "503", "reset", "timeout", "stream-cut", "malformed-chunk"}
