"""Model names across data sets and catalogs: one canonical spelling, and the lookup order for a learned ability.

The same model appears as `mistralai/Mixtral-8x7B-Instruct-v0.1` (Arena), `mixtral-8x7b-instruct` (RouteLLM) and
in the catalog with provider prefixes or dated snapshots (`gpt-4o-mini-2024-07-18`); abilities must be shared.
"""

from __future__ import annotations

import re

# Names that differ by more than spelling; after canonical_model's spelling rules.
_ALIASES = {
    "mixtral-8x7b-instruct-v0.1": "mixtral-8x7b-instruct",
    "gpt-4-turbo-preview": "gpt-4-0125-preview",
}
_DATE = re.compile(r"-20\d\d-?\d\d-?\d\d$")
_VERSION = re.compile(r"-v\d+(\.\d+)*$")


def canonical_model(name: str) -> str:
    """Lowercase, no provider prefix, '-' for '_', GPT spelled as OpenAI does (`gpt4_1106_preview` -> `gpt-4-...`)."""
    base = name.strip().rsplit("/", 1)[-1].lower().replace("_", "-")
    base = re.sub(r"^gpt4(?=-|$)", "gpt-4", base)
    base = re.sub(r"^gpt35(?=-|$)", "gpt-3.5", base)
    return _ALIASES.get(base, base)


def lookup_keys(name: str) -> list[str]:
    """Canonical name, then without a date snapshot suffix, then without a version suffix: most specific first."""
    keys = [canonical_model(name)]
    for pattern in (_DATE, _VERSION):
        shorter = _ALIASES.get(pattern.sub("", keys[-1]), pattern.sub("", keys[-1]))
        if shorter not in keys:
            keys.append(shorter)
    return keys
