"""What a chat completion answers, before any byte is written: the content of each choice and the token usage.

Deciding the answer apart from the HTTP layer keeps the streaming and non-streaming paths identical (same text,
same usage) and lets repeated prompts hit caches: a repeat costs two dictionary look-ups, not a generation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from . import generator
from .latency import profile_for_model
from .options import SimOptions
from .prompt_cache import PromptCache, prompt_text
from .replay import ReplayStore
from .tokenizer import LRU, tokenizer_for_model


class RequestError(ValueError):
    """An invalid request, answered with a 400 in OpenAI's format."""

    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message, self.param, self.code = message, param, code


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ChoicePlan:
    index: int
    content: str | None
    tool_call: ToolCall | None
    finish_reason: str
    completion_tokens: int


@dataclass(frozen=True)
class CompletionPlan:
    model: str
    choices: list[ChoicePlan]
    prompt_tokens: int
    cached_tokens: int
    replay: str  # hit | prompt-only | miss

    @property
    def completion_tokens(self) -> int:
        return sum(c.completion_tokens for c in self.choices)

    @property
    def longest_choice_tokens(self) -> int:
        return max((c.completion_tokens for c in self.choices), default=0)

    def usage(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                          "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
        }


def _digest(data: bytes) -> bytes:
    return hashlib.blake2b(data, digest_size=16).digest()


def _positive_int(body: dict[str, Any], name: str, *, default: int | None, upper: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (upper is not None and value > upper):
        bound = f" and at most {upper}" if upper else ""
        raise RequestError(f"Invalid '{name}': must be an integer of at least 1{bound}.", name, "invalid_value")
    return value


class Planner:
    """Turns a parsed request body into a CompletionPlan, with bounded caches for counts, prefixes and answers."""

    def __init__(self, options: SimOptions, replay: ReplayStore) -> None:
        self.options = options
        self.replay = replay
        self.prompt_cache = PromptCache()
        self._prompt_counts = LRU(4096)
        self._choices = LRU(8192)

    def plan(self, body: dict[str, Any]) -> CompletionPlan:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise RequestError("Missing required parameter: 'model'.", "model", "missing_required_parameter")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            if messages is None:
                raise RequestError("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
            raise RequestError("Invalid 'messages': expected a non-empty array of message objects.", "messages",
                               "invalid_value")
        n = _positive_int(body, "n", default=1, upper=128) or 1
        max_tokens = _positive_int(body, "max_completion_tokens", default=None)
        if max_tokens is None:
            max_tokens = _positive_int(body, "max_tokens", default=None)
        tools = body.get("tools") or None
        if tools is not None and not isinstance(tools, list):
            raise RequestError("Invalid 'tools': expected an array.", "tools", "invalid_type")
        stop = body.get("stop")
        stops = tuple(s for s in ([stop] if isinstance(stop, str) else stop or ()) if isinstance(s, str) and s)

        tokenizer = tokenizer_for_model(model)
        messages_bytes = orjson.dumps(messages)
        tools_bytes = orjson.dumps(tools) if tools else b""
        prompt_digest = _digest(messages_bytes + b"\x00" + tools_bytes)
        prompt_tokens = self._prompt_tokens(tokenizer, prompt_digest, messages, tools)
        cached_tokens = self.prompt_cache.lookup_and_store(
            model, lambda: prompt_text(messages, tools), prompt_digest, prompt_tokens, tokenizer)

        prompt = generator.last_user_text(messages)
        replay_status, replay_text = self.replay.lookup(prompt, model)
        mode, mode_key = self._mode(body, tools, messages)
        seed_parts = (model.encode(), str(self.options.seed).encode(), _digest(messages_bytes), _digest(mode_key))
        choices = []
        for index in range(n):
            key = (*seed_parts, index, max_tokens, stops, replay_text is not None)
            choice = self._choices.get(key)
            if choice is None:
                rng = generator.request_seed(*seed_parts, str(index).encode())
                if mode == "tool":
                    choice = self._tool_choice(index, rng, tools or [], body.get("tool_choice"), prompt or "",
                                               tokenizer, max_tokens)
                else:
                    text = self._text(mode, body, rng, model, messages, prompt or "", replay_text)
                    choice = self._text_choice(index, text, tokenizer, max_tokens, stops)
                self._choices.put(key, choice)
            choices.append(choice)
        return CompletionPlan(model, choices, prompt_tokens, cached_tokens, replay_status)

    def _prompt_tokens(self, tokenizer: Any, digest: bytes, messages: list[dict[str, Any]], tools: Any) -> int:
        key = (tokenizer.counter.encoding, digest)
        count = self._prompt_counts.get(key)
        if count is None:
            count = tokenizer.count_messages(messages)
            if tools:
                count += tokenizer.count(orjson.dumps(tools).decode())
            self._prompt_counts.put(key, count)
        return count

    @staticmethod
    def _mode(body: dict[str, Any], tools: Any, messages: list[dict[str, Any]]) -> tuple[str, bytes]:
        """`tool` (answer with a call), `json_object`, `json_schema` or `text`, plus the bytes that seed it."""
        tool_choice = body.get("tool_choice")
        if tools and tool_choice != "none":
            forced = tool_choice == "required" or isinstance(tool_choice, dict)
            if forced or (tool_choice in (None, "auto") and messages[-1].get("role") == "user"):
                return "tool", b"tool:" + orjson.dumps([tools, tool_choice])
        response_format = body.get("response_format")
        if isinstance(response_format, dict):
            kind = response_format.get("type")
            if kind == "json_object":
                return "json_object", b"json_object"
            if kind == "json_schema":
                return "json_schema", b"json_schema:" + orjson.dumps(response_format)
        return "text", b"text"

    def _text(self, mode: str, body: dict[str, Any], rng: Any, model: str, messages: list[dict[str, Any]],
              prompt: str, replay_text: str | None) -> str:
        if mode == "json_schema":
            return generator.json_schema_text(rng, body["response_format"])
        profile = profile_for_model(model)
        topics = generator.topic_words(prompt or generator.message_text(messages[-1]))
        target = generator.target_tokens(rng, profile, prompt, self.options.max_answer_tokens)
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        wanted = str(metadata.get("sim_answer_tokens", ""))
        if wanted.isdigit() and int(wanted) > 0:
            target = int(wanted)  # a benchmark asking for a given answer length
        if mode == "json_object":
            return generator.json_object_text(rng, topics, target)
        if replay_text is not None:
            return replay_text
        return generator.generate_text(rng, topics, target)

    @staticmethod
    def _text_choice(index: int, text: str, tokenizer: Any, max_tokens: int | None,
                     stops: tuple[str, ...]) -> ChoicePlan:
        finish = "stop"
        for stop in stops:
            cut = text.find(stop)
            if cut >= 0:
                text = text[:cut]
        if max_tokens is not None and tokenizer.count(text) > max_tokens:
            text, finish = tokenizer.truncate(text, max_tokens), "length"
        return ChoicePlan(index, text, None, finish, tokenizer.count(text))

    @staticmethod
    def _tool_choice(index: int, rng: Any, tools: list[Any], tool_choice: Any, prompt: str, tokenizer: Any,
                     max_tokens: int | None) -> ChoicePlan:
        function = generator.choose_tool(tools, tool_choice, prompt)
        if function is None:
            raise RequestError("Invalid 'tools': expected at least one function tool with a name.", "tools",
                               "invalid_value")
        name, arguments = function["name"], generator.tool_arguments(function, rng)
        call_id = generator.tool_call_id(rng)
        name_tokens = tokenizer.count(name)
        finish = "tool_calls"
        if max_tokens is not None and name_tokens + tokenizer.count(arguments) > max_tokens:
            arguments, finish = tokenizer.truncate(arguments, max(0, max_tokens - name_tokens)), "length"
        return ChoicePlan(index, None, ToolCall(call_id, name, arguments), finish,
                          name_tokens + tokenizer.count(arguments))
