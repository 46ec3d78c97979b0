"""Which rule applies to a request: the first whose conditions all hold, else the policy's defaults.

Each rule's conditions are compiled at load time into the short list of checks it actually uses, so matching a
request against a policy costs a handful of comparisons per rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

from gateway.analysis.types import Analysis
from gateway.policy.schema import Conditions, Match, Policy

Check = Callable[["RequestFacts"], bool]


@dataclass(frozen=True)
class RequestFacts:
    """What rules can look at: the request as asked, who asked, and the analysis."""

    model: str
    analysis: Analysis
    agent_role: str | None = None
    temperature: float | None = None
    tools: bool = False
    stream: bool = False
    client: str | None = None
    tenant: str | None = None
    metadata: Mapping[str, str] | None = None


def match(policy: Policy, facts: RequestFacts) -> Match:
    for rule in policy.rules:
        if all(check(facts) for check in rule.checks):
            return Match(policy, rule, rule.actions)
    return Match(policy, None, policy.defaults)


def compile_checks(when: Conditions) -> tuple[Check, ...]:
    """The checks a rule uses, cheapest first (most rules fail on their first condition)."""
    checks: list[Check] = []
    if when.models:
        checks.append(lambda f: any(pattern.match(f.model) for pattern in when.models))
    if when.agent_roles:
        checks.append(lambda f: f.agent_role in when.agent_roles)
    if when.task_types:
        checks.append(lambda f: f.analysis.task_type in when.task_types)
    for name in ("tools", "stream"):
        if getattr(when, name) is not None:
            checks.append(lambda f, name=name: getattr(f, name) == getattr(when, name))
    if when.has_subtasks is not None:
        checks.append(lambda f: f.analysis.has_subtasks == when.has_subtasks)
    if when.clients:
        checks.append(lambda f: f.client in when.clients)
    if when.tenants:
        checks.append(lambda f: f.tenant in when.tenants)
    checks.extend(_range_checks(when))
    if when.metadata:
        checks.append(lambda f: all((f.metadata or {}).get(key) in values for key, values in when.metadata))
    if when.keywords:
        checks.append(lambda f: any(word in f.analysis.last_user_text.lower() for word in when.keywords))
    if when.regex is not None:
        checks.append(lambda f: when.regex.search(f.analysis.last_user_text) is not None)
    return tuple(checks)


_RANGE_VALUES: dict[str, Callable[["RequestFacts"], float | None]] = {
    "complexity": lambda f: f.analysis.complexity,
    "context_dependency": lambda f: f.analysis.context_dependency,
    "tokens": lambda f: f.analysis.tokens.total,
    "last_user_tokens": lambda f: f.analysis.tokens.last_user,
    "history_tokens": lambda f: f.analysis.tokens.history,
    "temperature": lambda f: f.temperature,
}


def _range_checks(when: Conditions) -> list[Check]:
    checks: list[Check] = []
    for name, value_of in _RANGE_VALUES.items():
        bounds = getattr(when, name)
        if bounds is not None:
            checks.append(lambda f, b=bounds, v=value_of: (value := v(f)) is not None and b.holds(value))
    return checks
