"""Typed reading of a YamlSource: each accessor checks one value and records a located issue when it is wrong.

Validation keeps going after a mistake so the operator sees every problem in one run; callers raise at the end.
"""

from __future__ import annotations

from typing import Any, Iterable

from gateway.config.yaml_source import Path, YamlSource

_TYPE_NAMES = {str: "a string", int: "an integer", float: "a number", bool: "true or false",
               dict: "a mapping", list: "a list"}


class Reader:
    def __init__(self, source: YamlSource):
        self.source = source

    def issue(self, path: Path, message: str) -> None:
        self.source.issue(path, message)

    def mapping(self, data: Any, path: Path) -> dict[str, Any]:
        if data is None:
            return {}
        if not isinstance(data, dict):
            self.issue(path, f"must be a mapping, got {_describe(data)}")
            return {}
        return data

    def known_keys(self, data: dict[str, Any], path: Path, allowed: Iterable[str]) -> None:
        allowed = tuple(allowed)
        for key in data:
            if key not in allowed:
                self.issue(path + (key,), f"unknown key; allowed here: {', '.join(allowed)}")

    def value(self, data: dict[str, Any], path: Path, key: str, kind: type, default: Any = None, *,
              required: bool = False, minimum: float | None = None, choices: Iterable[Any] | None = None) -> Any:
        """One scalar or container of the expected type, or `default` (with an issue) when it is wrong."""
        if key not in data or data[key] is None:
            if required:
                self.issue(path + (key,), f"is required ({_TYPE_NAMES.get(kind, kind.__name__)})")
            return default
        value = data[key]
        if not _is_kind(value, kind):
            self.issue(path + (key,), f"must be {_TYPE_NAMES.get(kind, kind.__name__)}, got {_describe(value)}")
            return default
        if kind is float:
            value = float(value)
        if minimum is not None and value < minimum:
            self.issue(path + (key,), f"must be at least {minimum}, got {value}")
            return default
        if choices is not None:
            choices = tuple(choices)
            if value not in choices:
                self.issue(path + (key,), f"must be one of {', '.join(map(str, choices))}, got {value!r}")
                return default
        return value

    def string_list(self, data: dict[str, Any], path: Path, key: str) -> list[str]:
        items = self.value(data, path, key, list, [])
        good = []
        for index, item in enumerate(items):
            if isinstance(item, str):
                good.append(item)
            else:
                self.issue(path + (key, index), f"must be a string, got {_describe(item)}")
        return good


def _is_kind(value: Any, kind: type) -> bool:
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, kind)


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return _TYPE_NAMES[type(value)]
    return repr(value)
