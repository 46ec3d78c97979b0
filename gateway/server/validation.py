"""Validation of chat-completion bodies against the OpenAI API's rules, naming the offending field in `param`.

We reject what OpenAI itself would reject, before spending an upstream call on it, and let unknown fields through
untouched (providers add their own). Checks are plain functions over the parsed dict: cheap enough for the hot path.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from gateway.server.errors import APIError, invalid

_ROLES = ("system", "developer", "user", "assistant", "tool", "function")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MAX_N = 128


@dataclass(frozen=True)
class ChatRequest:
    """A validated chat-completion request: the few fields the gateway reasons about, plus the body as sent."""

    model: str
    messages: list[dict[str, Any]]
    stream: bool
    include_usage: bool
    n: int
    body: dict[str, Any]


def _number(low: float, high: float) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise invalid(f"'{name}' must be a number, got {_kind(value)}.", name, "invalid_type")
        if not low <= value <= high:
            raise invalid(f"'{name}' must be between {low:g} and {high:g}, got {value}.", name)
    return check


def _integer(low: int, high: int | None = None) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(f"'{name}' must be an integer, got {_kind(value)}.", name, "invalid_type")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise invalid(f"'{name}' must be {bound}, got {value}.", name)
    return check


def _of_type(kind: type, label: str) -> Callable[[str, Any], None]:
    def check(name: str, value: Any) -> None:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise invalid(f"'{name}' must be {label}, got {_kind(value)}.", name, "invalid_type")
    return check


def _stop(name: str, value: Any) -> None:
    if isinstance(value, str):
        return
    if not isinstance(value, list) or len(value) > 4 or not all(isinstance(item, str) for item in value):
        raise invalid("'stop' must be a string or a list of up to 4 strings.", name)


def _tools(name: str, value: Any) -> None:
    if not isinstance(value, list):
        raise invalid("'tools' must be a list of tools.", name, "invalid_type")
    for index, tool in enumerate(value):
        param = f"tools[{index}]"
        if not isinstance(tool, dict) or tool.get("type") not in ("function", "custom"):
            raise invalid(f"'{param}.type' must be 'function'.", f"{param}.type")
        function = tool.get("function") if tool.get("type") == "function" else tool.get("custom")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise invalid(f"'{param}.function.name' is required.", f"{param}.function.name",
                          "missing_required_parameter")
        if not _FUNCTION_NAME.match(function["name"]):
            raise invalid(f"'{param}.function.name' must match ^[a-zA-Z0-9_-]{{1,64}}$.", f"{param}.function.name")
        if "parameters" in function and not isinstance(function["parameters"], dict):
            raise invalid(f"'{param}.function.parameters' must be a JSON-schema object.",
                          f"{param}.function.parameters", "invalid_type")


def _tool_choice(name: str, value: Any) -> None:
    if value in ("none", "auto", "required"):
        return
    if isinstance(value, dict) and value.get("type") in ("function", "allowed_tools", "custom"):
        return
    raise invalid("'tool_choice' must be 'none', 'auto', 'required' or {\"type\": \"function\", ...}.", name)


def _response_format(name: str, value: Any) -> None:
    kind = value.get("type") if isinstance(value, dict) else None
    if kind not in ("text", "json_object", "json_schema"):
        raise invalid("'response_format.type' must be 'text', 'json_object' or 'json_schema'.",
                      "response_format.type")
    if kind == "json_schema":
        schema = value.get("json_schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("name"), str):
            raise invalid("'response_format.json_schema.name' is required.", "response_format.json_schema.name",
                          "missing_required_parameter")


def _metadata(name: str, value: Any) -> None:
    if not isinstance(value, dict) or len(value) > 16 or not all(
            isinstance(v, str) and len(k) <= 64 and len(v) <= 512 for k, v in value.items()):
        raise invalid("'metadata' must be an object of at most 16 string values (keys up to 64 characters, "
                      "values up to 512).", name)


_FIELD_CHECKS: dict[str, Callable[[str, Any], None]] = {
    "stream": _of_type(bool, "a boolean"),
    "n": _integer(1, MAX_N),
    "temperature": _number(0, 2),
    "top_p": _number(0, 1),
    "presence_penalty": _number(-2, 2),
    "frequency_penalty": _number(-2, 2),
    "max_tokens": _integer(1),
    "max_completion_tokens": _integer(1),
    "seed": _integer(-(2 ** 63)),
    "logprobs": _of_type(bool, "a boolean"),
    "top_logprobs": _integer(0, 20),
    "parallel_tool_calls": _of_type(bool, "a boolean"),
    "user": _of_type(str, "a string"),
    "logit_bias": _of_type(dict, "an object"),
    "stop": _stop,
    "tools": _tools,
    "tool_choice": _tool_choice,
    "response_format": _response_format,
    "metadata": _metadata,
}


def validate_chat_request(body: Any) -> ChatRequest:
    if not isinstance(body, dict):
        raise invalid(f"The request body must be a JSON object, got {_kind(body)}.", None, "invalid_type")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise invalid("You must provide a model parameter.", "model",
                      "missing_required_parameter" if model is None else "invalid_type")
    messages = _messages(body.get("messages"))
    for name, check in _FIELD_CHECKS.items():
        value = body.get(name)
        if value is not None:
            check(name, value)
    stream = body.get("stream") is True
    return ChatRequest(model, messages, stream, _include_usage(body, stream), body.get("n") or 1, body)


def _include_usage(body: dict[str, Any], stream: bool) -> bool:
    options = body.get("stream_options")
    if options is None:
        return False
    if not stream:
        raise invalid("The 'stream_options' parameter is only allowed when 'stream' is enabled.", "stream_options")
    if not isinstance(options, dict):
        raise invalid("'stream_options' must be an object.", "stream_options", "invalid_type")
    include = options.get("include_usage", False)
    if not isinstance(include, bool):
        raise invalid("'stream_options.include_usage' must be a boolean.", "stream_options.include_usage",
                      "invalid_type")
    return include


def _messages(messages: Any) -> list[dict[str, Any]]:
    if messages is None:
        raise invalid("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(messages, list) or not messages:
        raise invalid("'messages' must be a non-empty array of messages.", "messages",
                      "empty_array" if isinstance(messages, list) else "invalid_type")
    for index, message in enumerate(messages):
        _message(index, message)
    return messages


def _message(index: int, message: Any) -> None:
    param = f"messages[{index}]"
    if not isinstance(message, dict):
        raise invalid(f"'{param}' must be an object with 'role' and 'content'.", param, "invalid_type")
    role = message.get("role")
    if role not in _ROLES:
        raise invalid(f"'{param}.role' must be one of {', '.join(_ROLES)}, got {role!r}.", f"{param}.role")
    content = message.get("content")
    if content is None:
        if role == "assistant" and (message.get("tool_calls") or message.get("function_call")
                                    or message.get("refusal") or message.get("audio")):
            return
        raise invalid(f"Missing required parameter: '{param}.content'.", f"{param}.content",
                      "missing_required_parameter")
    if not isinstance(content, (str, list)):
        raise invalid(f"'{param}.content' must be a string or an array of content parts.", f"{param}.content",
                      "invalid_type")
    if isinstance(content, list) and not all(isinstance(part, dict) and "type" in part for part in content):
        raise invalid(f"Every part of '{param}.content' must be an object with a 'type'.", f"{param}.content",
                      "invalid_type")
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        raise invalid(f"Missing required parameter: '{param}.tool_call_id'.", f"{param}.tool_call_id",
                      "missing_required_parameter")


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "an array",
            dict: "an object", type(None): "null"}.get(type(value), type(value).__name__)


__all__ = ["APIError", "ChatRequest", "validate_chat_request"]
