"""Routing policies as typed values: what a rule matches on and what it allows.

A policy is `defaults` plus an ordered list of rules; the first rule whose conditions all hold applies, and its
actions override the defaults field by field (so a rule only states what it changes). Conditions are compiled once
at load time (globs and regexes), so matching a request costs a few attribute checks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable

ROUTE_MODES = ("auto", "as_requested", "model", "tier", "candidates")


@dataclass(frozen=True)
class Range:
    low: float | None = None
    high: float | None = None

    def holds(self, value: float) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.low:g}..{self.high:g}"
        return f">= {self.low:g}" if self.low is not None else f"<= {self.high:g}"


@dataclass(frozen=True)
class Conditions:
    """All set conditions must hold (AND); a list inside one condition means any of its values (OR)."""

    models: tuple[re.Pattern[str], ...] = ()
    agent_roles: frozenset[str] = frozenset()
    task_types: frozenset[str] = frozenset()
    complexity: Range | None = None
    context_dependency: Range | None = None
    tokens: Range | None = None
    last_user_tokens: Range | None = None
    history_tokens: Range | None = None
    keywords: tuple[str, ...] = ()
    regex: re.Pattern[str] | None = None
    temperature: Range | None = None
    tools: bool | None = None
    stream: bool | None = None
    has_subtasks: bool | None = None
    clients: frozenset[str] = frozenset()
    tenants: frozenset[str] = frozenset()
    metadata: tuple[tuple[str, frozenset[str]], ...] = ()

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) in (None, (), frozenset()) for f in fields(self))

    def signature(self) -> tuple[Any, ...]:
        """A comparable form, to spot a rule that repeats an earlier rule's conditions (and can never match)."""
        return tuple(tuple(sorted(p.pattern for p in value)) if f.name == "models" else
                     (value.pattern if isinstance(value, re.Pattern) else
                      tuple(sorted(value)) if isinstance(value, frozenset) else value)
                     for f in fields(self) for value in (getattr(self, f.name),))


@dataclass(frozen=True)
class Route:
    """Where a request may go. `auto` lets the decision engine pick among cheaper catalog models."""

    mode: str = "auto"
    model: str | None = None
    tier: str | None = None
    candidates: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.mode == "model":
            return f"model {self.model}"
        if self.mode == "tier":
            return f"tier {self.tier}"
        if self.mode == "candidates":
            return "candidates " + ", ".join(self.candidates)
        return self.mode


@dataclass(frozen=True)
class CachePolicy:
    """Answers meant to vary (a temperature above `max_temperature`, several choices) are not reused unless the
    policy says so: serving one sample twice is fine for a deterministic ask, not for a request for variety."""

    exact: bool = True
    semantic: bool = False
    ttl_s: int = 3600
    max_temperature: float = 1.0
    multiple_choices: bool = False


SPLIT_INTEGRATIONS = ("none", "call")


@dataclass(frozen=True)
class SplitPolicy:
    """Parallel workers for independent subtasks. `max_workers` bounds the workers running at once for a request;
    `min_confidence` is the detection confidence needed to split; `integration: call` adds one call on the worker
    model that smooths the merged parts into one text; `latency_sensitive` splits when the parallel answer is much
    sooner even if it costs more."""

    allowed: bool = False
    worker_model: str | None = None
    max_workers: int = 4
    min_confidence: float = 0.7
    integration: str = "none"
    latency_sensitive: bool = False


@dataclass(frozen=True)
class ContextPolicy:
    """How much of the conversation goes upstream. The system prompt and the last user turn are always kept."""

    keep_system: bool = True
    keep_last_turns: int | None = None
    max_tokens: int | None = None
    drop_history_when_independent: bool = False

    @property
    def minimizes(self) -> bool:
        return (self.keep_last_turns is not None or self.max_tokens is not None
                or self.drop_history_when_independent or not self.keep_system)


@dataclass(frozen=True)
class Actions:
    route: Route = field(default_factory=Route)
    fallbacks: tuple[str, ...] = ()
    cache: CachePolicy = field(default_factory=CachePolicy)
    split: SplitPolicy = field(default_factory=SplitPolicy)
    context: ContextPolicy = field(default_factory=ContextPolicy)
    quality_floor: str = "economy"
    quality_risk: float = 0.1
    min_confidence: float = 0.5
    independence_threshold: float = 0.3

    def merged(self, overrides: dict[str, Any]) -> "Actions":
        """These actions with a rule's stated fields replacing ours (nested sections merge field by field)."""
        values: dict[str, Any] = {}
        for name, value in overrides.items():
            current = getattr(self, name)
            values[name] = replace(current, **value) if isinstance(value, dict) else value
        return replace(self, **values)


@dataclass(frozen=True)
class Rule:
    name: str
    description: str
    when: Conditions
    actions: Actions         # the policy's defaults with the rule's stated fields applied
    line: int | None = None
    checks: tuple[Callable[..., bool], ...] = field(default=(), repr=False, compare=False)


@dataclass(frozen=True)
class Policy:
    name: str
    description: str
    defaults: Actions
    rules: tuple[Rule, ...]
    source: str
    name_line: int | None = None  # where `name` is written, to point at both files when two use the same one

    @property
    def is_passive(self) -> bool:
        """True when the policy runs every request exactly as asked and never matches by meaning, so no analysis can
        change its outcome."""
        actions = self.defaults
        return (not self.rules and actions.route.mode == "as_requested" and not actions.context.minimizes
                and not actions.split.allowed and not actions.cache.semantic)


@dataclass(frozen=True)
class Match:
    """The outcome of matching: the policy, the rule that applied (None: the defaults), and the actions in force."""

    policy: Policy
    rule: Rule | None
    actions: Actions

    @property
    def rule_name(self) -> str:
        return self.rule.name if self.rule else f"{self.policy.name}:defaults"
