"""Deterministic answers: English-like text, tool calls and JSON content.

Answers must look like answers (benchmarks show them, caches store them, trimmers cut them), have realistic lengths
per model profile, and be reproducible: the same model, messages and seed always give the same text. Everything
here is driven by a `random.Random` seeded from a hash of the request, never by global state.
"""

from __future__ import annotations

import hashlib
import random
import re
from typing import Any, Sequence

import orjson

from .latency import ModelProfile
from .schema_values import value_for_schema

_STOPWORDS = frozenset(
    "about above after again against being below between could doing during every first having itself might "
    "other ought please should their theirs there these those through under until which while would write "
    "explain describe tell where what when whose shall using given brief briefly short shortly concise concisely "
    "words sentence sentences answer question provide simple simply quick quickly hello thanks".split()
)
_WORD_RE = re.compile(r"[A-Za-z][a-z]{4,14}")
_BRIEF_RE = re.compile(r"\b(brief(ly)?|short|concise(ly)?|one (word|sentence|line)|yes or no|in a few words)\b", re.I)

_OPENERS = (
    "Here is a clear overview of {t}.",
    "Good question. Let's look at {t} step by step.",
    "Sure. The short answer is that {t} depends on a few key factors.",
    "There are several useful ways to think about {t}.",
    "Below is a practical explanation of {t}.",
    "Happy to help with {t}.",
)
_SUBJECTS = (
    "The first thing to consider", "A practical approach", "This method", "The main benefit", "Each step",
    "A careful review", "The overall result", "In practice, {t}", "A simple example", "The key trade-off",
    "A typical team", "A good rule of thumb", "The usual starting point", "A second option", "Good documentation",
)
_VERBS = (
    "depends on", "improves", "requires", "highlights", "reduces", "supports", "clarifies", "shapes", "balances",
    "builds on", "makes room for", "points to", "protects", "changes",
)
_OBJECTS = (
    "the overall quality of the result", "a clear and simple structure", "the cost of each decision", "{t}",
    "the underlying assumptions", "how the pieces fit together", "the needs of the reader",
    "a consistent level of detail", "the time you have available", "the most common mistakes",
    "a small set of reliable habits", "the way {t} is measured", "the final answer",
)
_TAILS = ("", "", "", " in most cases", " over time", " when the context is clear", " for most readers",
          " without extra effort", ", especially at the start", ", which keeps things predictable",
          " as the work grows", " if you plan ahead")
_CLOSERS = (
    "In summary, {t} comes down to a few simple, repeatable choices.",
    "I hope this helps. Let me know if you would like more detail on {t}.",
    "Overall, start small, check the result, and adjust as you learn more about {t}.",
)
_HEADINGS = ("Scope", "Cost", "Quality", "Timing", "Risks", "Next steps", "Context", "Trade-offs", "Examples",
             "Testing")
_CHARS_PER_TOKEN = 4.6  # for this vocabulary; only steers the target, the reported count is always exact


def request_seed(*parts: bytes) -> random.Random:
    """A random generator seeded by a stable hash of the given parts (Python's hash() is salted per process)."""
    digest = hashlib.blake2b(b"\x1f".join(parts), digest_size=8).digest()
    return random.Random(int.from_bytes(digest, "big"))


def message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def last_user_text(messages: Sequence[dict[str, Any]]) -> str | None:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return None


def topic_words(text: str, limit: int = 4) -> list[str]:
    seen: dict[str, None] = {}
    for word in _WORD_RE.findall(text[:2000]):
        lowered = word.lower()
        if lowered not in _STOPWORDS:
            seen.setdefault(lowered, None)
            if len(seen) >= limit:
                break
    return list(seen)


def target_tokens(rng: random.Random, profile: ModelProfile, prompt: str, cap: int) -> int:
    """Answer length: skewed towards the short end of the profile's range, shorter when the user asks for brevity."""
    span = profile.max_answer_tokens - profile.min_answer_tokens
    target = profile.min_answer_tokens + int(span * rng.random() ** 1.5)
    if _BRIEF_RE.search(prompt[:2000]):
        target = max(20, target // 3)
    return max(1, min(target, cap))


def generate_text(rng: random.Random, topics: Sequence[str], target: int) -> str:
    """Paragraphs and lists of plausible sentences, about `target` tokens long."""
    topics = list(topics) or ["this topic", "the question"]

    def fill(template: str) -> str:
        return template.replace("{t}", rng.choice(topics))

    def sentence() -> str:
        text = f"{fill(rng.choice(_SUBJECTS))} {rng.choice(_VERBS)} {fill(rng.choice(_OBJECTS))}{rng.choice(_TAILS)}."
        return text[0].upper() + text[1:]

    budget = target * _CHARS_PER_TOKEN
    closer = fill(rng.choice(_CLOSERS))
    blocks = [fill(rng.choice(_OPENERS))]
    used = len(blocks[0])
    while used + len(closer) < budget:
        if rng.random() < 0.3:
            headings = rng.sample(_HEADINGS + tuple(t.capitalize() for t in topics), rng.randint(3, 5))
            items = [f"{i}. **{heading}**: {sentence()}" for i, heading in enumerate(headings, 1)]
            block = "\n".join(items)
        else:
            block = " ".join(sentence() for _ in range(rng.randint(2, 4)))
        if used + len(block) > budget * 1.15 and used > 0:
            block = sentence()  # top up with one sentence rather than overshoot by a whole paragraph
        blocks.append(block)
        used += len(block) + 2
    if target >= 40:
        blocks.append(closer)
    return "\n\n".join(blocks)


def json_object_text(rng: random.Random, topics: Sequence[str], target: int) -> str:
    """Content for `response_format: json_object`: a small, always-valid JSON object."""
    answer = generate_text(rng, topics, max(20, min(target, 160)))
    return orjson.dumps({"answer": answer.replace("\n\n", " "), "topics": list(topics)[:3],
                         "confidence": round(0.6 + rng.random() * 0.35, 2)}).decode()


def json_schema_text(rng: random.Random, response_format: dict[str, Any]) -> str:
    spec = response_format.get("json_schema") or {}
    schema = spec.get("schema") if isinstance(spec, dict) else None
    return orjson.dumps(value_for_schema(schema or {"type": "object"}, rng)).decode()


def choose_tool(tools: Sequence[dict[str, Any]], tool_choice: Any, prompt: str) -> dict[str, Any] | None:
    """The function the simulated model calls: the named one, else the one whose name best matches the prompt."""
    functions = [t.get("function") for t in tools if isinstance(t, dict) and isinstance(t.get("function"), dict)]
    functions = [f for f in functions if isinstance(f.get("name"), str)]
    if not functions:
        return None
    if isinstance(tool_choice, dict):
        wanted = (tool_choice.get("function") or {}).get("name") or tool_choice.get("name")
        for function in functions:
            if function["name"] == wanted:
                return function
    words = set(w.lower() for w in re.findall(r"[A-Za-z]+", prompt[:2000]))

    def score(function: dict[str, Any]) -> int:
        name_words = re.findall(r"[a-z]+", re.sub(r"([a-z])([A-Z])", r"\1_\2", function["name"]).lower())
        described = re.findall(r"[a-z]+", str(function.get("description", "")).lower())
        return 3 * len(words.intersection(name_words)) + len(words.intersection(described))

    return max(functions, key=score)  # max() keeps the first of equals: stable


def tool_arguments(function: dict[str, Any], rng: random.Random) -> str:
    parameters = function.get("parameters")
    if not isinstance(parameters, dict):
        return "{}"
    return orjson.dumps(value_for_schema(parameters, rng)).decode()


def tool_call_id(rng: random.Random) -> str:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    return "call_" + "".join(rng.choice(alphabet) for _ in range(24))
