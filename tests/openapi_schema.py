"""Validate JSON objects against the official OpenAI OpenAPI schemas (`#/components/schemas/<name>`).

The spec lives outside the repository (third-party file): `$GATEWAY_OPENAPI_SPEC`, else
`../shared/data/openai/openapi.yaml` next to the repo. When it is absent, `validate` does nothing and returns False,
so only the schema checks are skipped, never the rest of a test.

The spec is OpenAPI 3.1 but still marks some fields `nullable: true` (a 3.0 keyword that JSON Schema ignores), so
those are rewritten to also accept null before validating, as OpenAI's own SDKs treat them.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = Path(os.environ.get("GATEWAY_OPENAPI_SPEC")
                 or REPO_ROOT.parent / "shared" / "data" / "openai" / "openapi.yaml")
SPEC_AVAILABLE = SPEC_PATH.is_file()
_BASE_URI = "urn:openai:openapi"


def _accept_null(node: Any) -> Any:
    """Rewrite OpenAPI 3.0 `nullable: true` into JSON Schema (recursively, in place)."""
    if isinstance(node, list):
        for item in node:
            _accept_null(item)
        return node
    if not isinstance(node, dict):
        return node
    for value in node.values():
        _accept_null(value)
    if node.pop("nullable", False) is True:
        kind = node.get("type")
        if isinstance(kind, str):
            node["type"] = [kind, "null"]
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"].append(None)
        elif isinstance(kind, list):
            if "null" not in kind:
                kind.append("null")
        else:
            inner = dict(node)
            node.clear()
            node["anyOf"] = [inner, {"type": "null"}]
    return node


@lru_cache(maxsize=1)
def _spec() -> dict[str, Any]:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open("rb") as handle:
        return _accept_null(yaml.load(handle, Loader=loader))


@lru_cache(maxsize=None)
def _validator(schema_name: str) -> Any:
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    spec = _spec()
    if schema_name not in spec["components"]["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in {SPEC_PATH}")
    registry = Registry().with_resource(_BASE_URI, Resource.from_contents(spec, default_specification=DRAFT202012))
    return Draft202012Validator({"$ref": f"{_BASE_URI}#/components/schemas/{schema_name}"}, registry=registry)


def validate(instance: Any, schema_name: str) -> bool:
    """Raise jsonschema.ValidationError if `instance` does not match; False if the spec is unavailable."""
    if not SPEC_AVAILABLE:
        return False
    _validator(schema_name).validate(instance)
    return True
