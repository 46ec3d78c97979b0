"""Deterministic JSON values that satisfy a JSON schema: tool-call arguments and `json_schema` answers.

Clients parse what comes back (structured outputs, agents calling tools), so the simulator must return values of the
right shape: every required property, the right types, enums, formats and bounds respected. Values are derived
from a seed so the same request always gets the same arguments.
"""

from __future__ import annotations

import math
import random
from typing import Any

_WORDS = ("alpha", "summary", "report", "north", "value", "sample", "draft", "review", "signal", "update",
          "harbor", "cedar", "orbit", "ledger", "prism", "meadow")
_NAMED_STRINGS = {
    "location": "Paris, France", "city": "Paris", "country": "France", "name": "Ada Lovelace",
    "email": "user@example.com", "url": "https://example.com/", "query": "latest quarterly results",
    "unit": "celsius", "language": "en", "title": "Quarterly summary", "date": "2024-05-17",
}
_FORMATS = {
    "date-time": "2024-05-17T10:30:00Z", "date": "2024-05-17", "time": "10:30:00", "email": "user@example.com",
    "uri": "https://example.com/", "url": "https://example.com/", "hostname": "example.com", "ipv4": "192.0.2.10",
    "ipv6": "2001:db8::10", "duration": "PT1H",
}
_MAX_DEPTH = 8


def value_for_schema(schema: Any, rng: random.Random, *, root: Any = None, key: str = "", depth: int = 0) -> Any:
    """A value valid for `schema` (objects get their required properties, or all of them if none are required)."""
    root = schema if root is None else root
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return _string_for(key, {}, rng)
    if "$ref" in schema:
        return value_for_schema(_resolve(root, schema["$ref"]), rng, root=root, key=key, depth=depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    for combinator in ("anyOf", "oneOf"):
        options = [s for s in schema.get(combinator) or () if not (isinstance(s, dict) and s.get("type") == "null")]
        if options:
            return value_for_schema(options[0], rng, root=root, key=key, depth=depth + 1)
    if schema.get("allOf"):
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            part = _resolve(root, part["$ref"]) if isinstance(part, dict) and "$ref" in part else part
            if isinstance(part, dict):
                _merge_into(merged, part)
        return value_for_schema(merged, rng, root=root, key=key, depth=depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = "object" if "properties" in schema else "array" if "items" in schema else "string"
    if kind == "object":
        return _object_for(schema, rng, root, depth)
    if kind == "array":
        count = max(int(schema.get("minItems", 1)), 1)
        count = min(count, int(schema.get("maxItems", count)))
        return [value_for_schema(schema.get("items", {}), rng, root=root, key=key, depth=depth + 1)
                for _ in range(count)]
    if kind == "integer":
        return int(_number_in(schema, rng, integer=True))
    if kind == "number":
        return _number_in(schema, rng, integer=False)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return _string_for(key, schema, rng)


def _object_for(schema: dict[str, Any], rng: random.Random, root: Any, depth: int) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    names = [n for n in schema.get("required") or () if isinstance(n, str)] or list(properties)
    return {name: value_for_schema(properties.get(name, {}), rng, root=root, key=name, depth=depth + 1)
            for name in names}


def _number_in(schema: dict[str, Any], rng: random.Random, *, integer: bool) -> float:
    low = schema.get("minimum", schema.get("exclusiveMinimum", 0))
    high = schema.get("maximum", schema.get("exclusiveMaximum", max(low, 0) + 100))
    if not isinstance(low, (int, float)) or isinstance(low, bool):
        low = 0
    if not isinstance(high, (int, float)) or isinstance(high, bool) or high < low:
        high = low + 100
    if "exclusiveMinimum" in schema and "minimum" not in schema:
        low = low + 1 if integer else low + (high - low) / 100
    if "exclusiveMaximum" in schema and "maximum" not in schema:
        high = high - 1 if integer else high - (high - low) / 100
    if integer:
        lo, hi = math.ceil(low), math.floor(high)
        value = rng.randint(lo, hi) if hi >= lo else lo
        step = schema.get("multipleOf")
        if isinstance(step, int) and step > 0:
            value = max(lo, value - value % step)
        return value
    return round(rng.uniform(low, high), 2)


def _string_for(key: str, schema: dict[str, Any], rng: random.Random) -> str:
    fmt = schema.get("format")
    if fmt == "uuid":
        return "%08x-%04x-4%03x-8%03x-%012x" % (rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12),
                                                 rng.getrandbits(12), rng.getrandbits(48))
    if fmt in _FORMATS:
        value = _FORMATS[fmt]
    else:
        value = _NAMED_STRINGS.get(key.lower()) or f"{rng.choice(_WORDS)} {rng.choice(_WORDS)}"
    min_len = int(schema.get("minLength", 0) or 0)
    max_len = schema.get("maxLength")
    if len(value) < min_len:
        value = (value + " ") * (min_len // (len(value) + 1) + 1)
        value = value[:min_len]
    if isinstance(max_len, int) and len(value) > max_len:
        value = value[:max_len]
    return value


def _resolve(root: Any, ref: str) -> Any:
    """Local `#/...` references only (what strict structured-output schemas use: `#/$defs/X`)."""
    if not isinstance(ref, str) or not ref.startswith("#"):
        return {}
    node = root
    for part in ref.lstrip("#").strip("/").split("/") if ref != "#" else ():
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return {}
    return node


def _merge_into(target: dict[str, Any], part: dict[str, Any]) -> None:
    for name, value in part.items():
        if name == "properties":
            target.setdefault("properties", {}).update(value)
        elif name == "required":
            target["required"] = list(dict.fromkeys([*target.get("required", []), *value]))
        else:
            target.setdefault(name, value)
