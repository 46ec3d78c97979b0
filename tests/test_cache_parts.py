"""The cache's parts on their own: rebuilding answers from stream chunks, what counts as storable, the byte-bounded
memory tier, keys, and the Redis link's behaviour when Redis is away."""

from __future__ import annotations

import time

import orjson

from gateway.cache.answer import CachedAnswer, completion_from_chunks, storable
from gateway.cache.keys import cache_scope, exact_key, semantic_namespace
from gateway.cache.memory import ByteLRU
from gateway.cache.redis_link import RedisLink
from gateway.cache.replay import stream_events
from gateway.config.settings import load_settings
from gateway.server.sse import EventSplitter, event_data
from tests.test_cache_exact import own_redis  # noqa: F401  (a fixture)


def chunk(delta: dict, finish: str | None = None, index: int = 0) -> bytes:
    return orjson.dumps({"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "m",
                         "choices": [{"index": index, "delta": delta, "finish_reason": finish}]})


TOOL_STREAM = [
    chunk({"role": "assistant", "content": None}),
    chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                           "function": {"name": "get_weather", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
    chunk({}, "tool_calls"),
]


def test_tool_call_stream_is_rebuilt_whole_and_storable():
    completion = completion_from_chunks(TOOL_STREAM)
    call = completion["choices"][0]["message"]["tool_calls"][0]
    assert call == {"id": "call_1", "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    assert completion["choices"][0]["finish_reason"] == "tool_calls" and storable(completion)


def test_partial_answers_are_not_storable():
    cut_in_tool_call = completion_from_chunks(TOOL_STREAM[:3] + [chunk({}, "tool_calls")])
    assert not storable(cut_in_tool_call)                              # arguments are not whole JSON
    assert not storable(completion_from_chunks(TOOL_STREAM[:4]))       # no finish reason: the stream was cut
    assert not storable(completion_from_chunks([chunk({"content": "x"}), chunk({}, "content_filter")]))
    assert not storable({"error": {"message": "boom"}})
    assert not storable({"choices": []})


def test_replayed_stream_rebuilds_to_the_same_answer():
    completion = completion_from_chunks([chunk({"role": "assistant", "content": ""}), chunk({"content": "a" * 700}),
                                         chunk({}, "stop")])
    completion["usage"] = {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    events = EventSplitter().feed(b"".join(stream_events(CachedAnswer(completion, "m", 0.0), include_usage=True)))
    payloads = [event_data(event) for event in events]
    assert payloads[-1] == b"[DONE]"
    replayed = completion_from_chunks(payloads[:-1])
    assert replayed["choices"] == completion["choices"]
    assert replayed["usage"]["prompt_tokens_details"]["cached_tokens"] == 10


def test_memory_tier_is_bounded_in_bytes_and_expires():
    now = [0.0]
    lru = ByteLRU(10_000, clock=lambda: now[0])
    for index in range(40):
        lru.put(f"k{index}", b"x" * 1000, ttl_s=60)
    assert lru.bytes <= 10_000 and lru.get("k0") is None and lru.get("k39") is not None
    lru.put("big", b"x" * 20_000, ttl_s=60)
    assert lru.get("big") is None                                      # larger than the whole tier: not kept
    now[0] = 61
    assert lru.get("k39") is None and len(lru) < 10


def test_keys_separate_scopes_and_ignore_delivery_fields():
    model = load_settings(None).find_model("gpt-4o")
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "q"}]
    body = {"model": "gpt-4o", "messages": messages, "temperature": 0}
    key = exact_key("shared", model, messages, body)
    assert key == exact_key("shared", model, messages, {**body, "stream": True, "user": "u", "metadata": {"a": 1}})
    assert key == exact_key("shared", model, messages, {**body, "prompt_cache_key": "conversation-7",
                                                         "prompt_cache_retention": "24h"})
    assert key != exact_key("tenant:acme", model, messages, body)
    assert key != exact_key("shared", model, messages, {**body, "temperature": 0.2})
    history = [messages[0], {"role": "user", "content": "earlier"}, {"role": "assistant", "content": "x"}, messages[1]]
    assert semantic_namespace("shared", model, messages, body) == semantic_namespace("shared", model, history, body)
    assert cache_scope("tenant", "acme", None) == "tenant:acme" and cache_scope("shared", "acme", None) == "shared"
    assert cache_scope("shared", None, "sk-own").startswith("key:") and "sk-own" not in cache_scope("shared", None,
                                                                                                   "sk-own")


async def test_redis_link_pauses_after_a_failure_and_hides_the_password(caplog):
    now = [0.0]
    link = RedisLink("redis://:hunter2@127.0.0.1:1/0", timeout_s=0.05, clock=lambda: now[0])
    assert await link.call(lambda client: client.get("k")) is None
    assert (link.state, link.failures, link.available()) == ("degraded", 1, False)
    assert await link.call(lambda client: client.get("k")) is None and link.failures == 1   # paused: not even tried
    assert "Redis at redis://***@127.0.0.1:1/0 failed" in caplog.text and "hunter2" not in caplog.text
    now[0] = 10
    assert link.available()
    await link.close()


async def test_redis_link_survives_a_restart_and_still_sees_an_outage_at_once(own_redis, caplog):  # noqa: F811
    """A pooled connection to a killed server is stale: the first call after a restart must still succeed, and
    the one retry must not hide or slow down a real outage (a dead server refuses the retry too)."""
    link = RedisLink(own_redis["url"], timeout_s=2.0)
    assert await link.call(lambda client: client.set("k", b"v")) is True
    own_redis["kill"]()
    own_redis["restart"]()
    assert await link.call(lambda client: client.set("k", b"w")) is True
    assert (link.state, link.failures) == ("ok", 0)
    own_redis["kill"]()
    started = time.monotonic()
    assert await link.call(lambda client: client.get("k")) is None
    assert time.monotonic() - started < 1.0 and "failed (ConnectionError)" in caplog.text   # refused, not timed out
    assert (link.state, link.failures) == ("degraded", 1)
    await link.close()


async def test_an_operation_that_must_not_run_twice_is_never_retried(own_redis):  # noqa: F811
    """A budget script could run twice if a connection broke after the server ran it: such calls fail instead."""
    link = RedisLink(own_redis["url"], timeout_s=2.0)
    assert await link.call(lambda client: client.incr("n"), idempotent=False) == 1
    own_redis["kill"]()
    own_redis["restart"]()
    assert await link.call(lambda client: client.incr("n"), idempotent=False) is None  # the stale connection's error
    assert (link.state, link.failures) == ("degraded", 1)
    assert await link.ping() and await link.call(lambda client: client.exists("n")) == 0  # it never ran
    await link.close()
