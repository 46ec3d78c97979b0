"""Reading and checking policy files: every mistake an operator is likely to make, located by file and line.

Checked: YAML syntax, unknown fields (with what is allowed there), wrong types and ranges, unknown models, tiers
and task types, invalid regexes, and rules that can never match because an earlier rule catches everything they
would (an unconditional rule, or one with the very same conditions).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, fields
from typing import Any, Callable, Iterable

from gateway.analysis.types import TASK_TYPES
from gateway.config.reader import Reader
from gateway.config.settings import TIERS, Settings
from gateway.config.yaml_source import ConfigError, ConfigIssue, Path, YamlSource, load_yaml, load_yaml_file
from gateway.policy.matcher import compile_checks
from gateway.policy.schema import SPLIT_INTEGRATIONS, Actions, Conditions, Policy, Range, Route, Rule

_TOP_KEYS = ("name", "description", "defaults", "rules")
_RULE_KEYS = ("name", "description", "when", "then")
_CONDITION_KEYS = ("model", "agent_role", "task_type", "complexity", "context_dependency", "tokens",
                   "last_user_tokens", "history_tokens", "keywords", "regex", "temperature", "tools", "stream",
                   "has_subtasks", "client", "tenant", "metadata")
_ACTION_KEYS = tuple(f.name for f in fields(Actions))


@dataclass(frozen=True)
class Catalog:
    """What a policy may name: the catalog's chat models."""

    models: frozenset[str]

    @classmethod
    def from_settings(cls, settings: Settings) -> "Catalog":
        return cls(frozenset(model.name for model in settings.catalog() if model.is_chat))


def load_policy_file(path: str, catalog: Catalog) -> Policy:
    return _build(load_yaml_file(path, environ={}), catalog)


def load_policy_text(text: str, source: str, catalog: Catalog) -> Policy:
    return _build(load_yaml(text, source, environ={}), catalog)


def check_policy_files(paths: Iterable[str], catalog: Catalog) -> list[ConfigIssue]:
    """Every issue in every file (for `gateway policy check`); an empty list means all files are good."""
    issues: list[ConfigIssue] = []
    loaded: list[Policy] = []
    for path in paths:
        try:
            loaded.append(load_policy_file(path, catalog))
        except ConfigError as exc:
            issues.extend(exc.issues)
    for policy in loaded:
        issues.extend(name_clashes(policy, loaded))
    return issues


def name_clashes(policy: Policy, others: Iterable[Policy]) -> list[ConfigIssue]:
    """Issues for `policy` when a policy from another file has its name: policies are selected by name, so one of
    the two would silently replace the other. Each file of a clash gets an issue naming the other file and line."""
    return [ConfigIssue(policy.source, ("name",), policy.name_line,
                        f"policy '{policy.name}' is also defined in {other.source}:{other.name_line or '?'}; "
                        "policy names must be unique")
            for other in others if other.name == policy.name and other.source != policy.source]


def _build(source: YamlSource, catalog: Catalog) -> Policy:
    reader = _PolicyReader(source, catalog)
    top = reader.mapping(source.data, ())
    reader.known_keys(top, (), _TOP_KEYS)
    name = reader.value(top, (), "name", str, required=True) or "unnamed"
    defaults = Actions().merged(reader.actions(reader.mapping(top.get("defaults"), ("defaults",)), ("defaults",)))
    raw_rules = reader.value(top, (), "rules", list, [])
    rules = tuple(reader.rule(item, index, defaults) for index, item in enumerate(raw_rules))
    # Unconditional means the operator wrote no conditions: a rule whose only condition was rejected is not one.
    unconditional = [not (isinstance(item, dict) and item.get("when")) for item in raw_rules]
    reader.check_reachability(rules, unconditional)
    if source.issues:
        raise ConfigError(source.issues)
    return Policy(name, reader.value(top, (), "description", str, ""), defaults, rules, source.file,
                  source.line_of(("name",)))


class _PolicyReader(Reader):
    def __init__(self, source: YamlSource, catalog: Catalog):
        super().__init__(source)
        self.catalog = catalog

    # -- rules ---------------------------------------------------------------------------------------------------
    def rule(self, data: Any, index: int, defaults: Actions) -> Rule:
        path: Path = ("rules", index)
        data = self.mapping(data, path)
        self.known_keys(data, path, _RULE_KEYS)
        name = self.value(data, path, "name", str, f"rule-{index + 1}")
        when = self.conditions(self.mapping(data.get("when"), path + ("when",)), path + ("when",))
        then = self.actions(self.mapping(data.get("then"), path + ("then",)), path + ("then",))
        if "then" not in data:
            self.issue(path, "a rule needs 'then' (what it allows)")
        return Rule(name, self.value(data, path, "description", str, ""), when, defaults.merged(then),
                    self.source.line_of(path), compile_checks(when))

    def check_reachability(self, rules: tuple[Rule, ...], unconditional: list[bool]) -> None:
        seen: dict[tuple[Any, ...], str] = {}
        for index, rule in enumerate(rules):
            signature = rule.when.signature()
            catch_all = next((r.name for r, bare in zip(rules[:index], unconditional) if bare), None)
            if catch_all:
                self.issue(("rules", index), f"unreachable: rule '{catch_all}' before it has no conditions and "
                                             "matches every request")
            elif signature in seen and not rule.when.is_empty():
                self.issue(("rules", index), f"unreachable: rule '{seen[signature]}' before it has the same "
                                             "conditions")
            seen.setdefault(signature, rule.name)

    # -- conditions ----------------------------------------------------------------------------------------------
    def conditions(self, data: dict[str, Any], path: Path) -> Conditions:
        self.known_keys(data, path, _CONDITION_KEYS)
        regex = self.value(data, path, "regex", str)
        return Conditions(
            models=tuple(re.compile(fnmatch.translate(glob)) for glob in self.strings(data, path, "model")),
            agent_roles=frozenset(self.strings(data, path, "agent_role")),
            task_types=frozenset(self.strings(data, path, "task_type", allowed=TASK_TYPES)),
            complexity=self.range(data, path, "complexity", 1, 5),
            context_dependency=self.range(data, path, "context_dependency", 0, 1),
            tokens=self.range(data, path, "tokens", 0, None),
            last_user_tokens=self.range(data, path, "last_user_tokens", 0, None),
            history_tokens=self.range(data, path, "history_tokens", 0, None),
            keywords=tuple(word.lower() for word in self.strings(data, path, "keywords")),
            regex=self.compile(regex, path + ("regex",)) if regex else None,
            temperature=self.range(data, path, "temperature", 0, 2),
            tools=self.value(data, path, "tools", bool),
            stream=self.value(data, path, "stream", bool),
            has_subtasks=self.value(data, path, "has_subtasks", bool),
            clients=frozenset(self.strings(data, path, "client")),
            tenants=frozenset(self.strings(data, path, "tenant")),
            metadata=self.metadata(self.mapping(data.get("metadata"), path + ("metadata",)), path + ("metadata",)),
        )

    def strings(self, data: dict[str, Any], path: Path, key: str, allowed: tuple[str, ...] | None = None
                ) -> list[str]:
        """A string or a list of strings (any of them matches)."""
        value = data.get(key)
        items = [value] if isinstance(value, str) else self.string_list(data, path, key) if value is not None else []
        if allowed is not None:
            for item in items:
                if item not in allowed:
                    self.issue(path + (key,), f"unknown value {item!r}; allowed: {', '.join(allowed)}")
        return items

    def range(self, data: dict[str, Any], path: Path, key: str, low: float, high: float | None) -> Range | None:
        """A number (exact), or {min, max} with either bound optional."""
        value = data.get(key)
        if value is None:
            return None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            bounds = (float(value), float(value))
        elif isinstance(value, dict):
            self.known_keys(value, path + (key,), ("min", "max"))
            bounds = (self.value(value, path + (key,), "min", float), self.value(value, path + (key,), "max", float))
        else:
            self.issue(path + (key,), "must be a number or {min: ..., max: ...}")
            return None
        for bound in bounds:
            if bound is not None and (bound < low or (high is not None and bound > high)):
                limit = f"between {low:g} and {high:g}" if high is not None else f"at least {low:g}"
                self.issue(path + (key,), f"bounds must be {limit}, got {bound:g}")
        if bounds[0] is not None and bounds[1] is not None and bounds[0] > bounds[1]:
            self.issue(path + (key,), f"min {bounds[0]:g} is above max {bounds[1]:g}: the rule can never match")
        return Range(*bounds)

    def compile(self, pattern: str, path: Path) -> re.Pattern[str] | None:
        try:
            return re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            self.issue(path, f"invalid regular expression: {exc}")
            return None

    def metadata(self, data: dict[str, Any], path: Path) -> tuple[tuple[str, frozenset[str]], ...]:
        return tuple((str(key), frozenset(self.strings(data, path, key))) for key in data)

    # -- actions -------------------------------------------------------------------------------------------------
    def actions(self, data: dict[str, Any], path: Path) -> dict[str, Any]:
        """The fields a `then` (or `defaults`) states, checked; merged over the defaults by Actions.merged."""
        self.known_keys(data, path, _ACTION_KEYS)
        readers: dict[str, Callable[[Any, Path], Any]] = {
            "route": self.route, "fallbacks": self.model_list, "cache": self.cache, "split": self.split,
            "context": self.context,
            "quality_floor": lambda value, p: self.choice(value, p, TIERS),
            "quality_risk": lambda value, p: self.fraction(value, p),
            "min_confidence": lambda value, p: self.fraction(value, p),
            "independence_threshold": lambda value, p: self.fraction(value, p),
        }
        return {key: readers[key](data[key], path + (key,)) for key in data if key in readers}

    def route(self, value: Any, path: Path) -> Route:
        if value in ("auto", "as_requested"):
            return Route(value)
        if isinstance(value, str):
            return Route("model", model=self.model(value, path))
        data = self.mapping(value, path)
        self.known_keys(data, path, ("model", "tier", "candidates"))
        if len(data) != 1:
            self.issue(path, "give one of: auto, as_requested, a model name, {model: M}, {tier: T} or "
                             "{candidates: [M, ...]}")
            return Route()
        key, item = next(iter(data.items()))
        if key == "model":
            return Route("model", model=self.model(item, path + ("model",)))
        if key == "tier":
            return Route("tier", tier=self.choice(item, path + ("tier",), TIERS))
        return Route("candidates", candidates=self.model_list(item, path + ("candidates",)))

    def model(self, value: Any, path: Path) -> str:
        if not isinstance(value, str) or value not in self.catalog.models:
            known = ", ".join(sorted(self.catalog.models))
            self.issue(path, f"unknown model {value!r}; the catalog has: {known}")
        return str(value)

    def model_list(self, value: Any, path: Path) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            self.issue(path, "must be a non-empty list of model names")
            return ()
        return tuple(self.model(item, path + (index,)) for index, item in enumerate(value))

    def choice(self, value: Any, path: Path, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            self.issue(path, f"must be one of {', '.join(allowed)}, got {value!r}")
            return allowed[0]
        return value

    def fraction(self, value: Any, path: Path) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            self.issue(path, f"must be a number between 0 and 1, got {value!r}")
            return 0.0
        return float(value)

    def section(self, value: Any, path: Path, spec: dict[str, tuple[type, float | None]]) -> dict[str, Any]:
        data = self.mapping(value, path)
        self.known_keys(data, path, tuple(spec))
        return {key: self.value(data, path, key, kind, minimum=minimum) for key, (kind, minimum) in spec.items()
                if key in data}

    def cache(self, value: Any, path: Path) -> dict[str, Any]:
        return self.section(value, path, {"exact": (bool, None), "semantic": (bool, None), "ttl_s": (int, 0),
                                            "max_temperature": (float, 0.0), "multiple_choices": (bool, None)})

    def split(self, value: Any, path: Path) -> dict[str, Any]:
        values = self.section(value, path, {"allowed": (bool, None), "worker_model": (str, None),
                                            "max_workers": (int, 1), "min_confidence": (float, 0),
                                            "integration": (str, None), "latency_sensitive": (bool, None)})
        if values.get("worker_model") is not None:
            self.model(values["worker_model"], path + ("worker_model",))
        if "min_confidence" in values:
            values["min_confidence"] = self.fraction(values["min_confidence"], path + ("min_confidence",))
        if "integration" in values:
            values["integration"] = self.choice(values["integration"], path + ("integration",), SPLIT_INTEGRATIONS)
        return values

    def context(self, value: Any, path: Path) -> dict[str, Any]:
        return self.section(value, path, {"keep_system": (bool, None), "keep_last_turns": (int, 0),
                                          "max_tokens": (int, 1), "drop_history_when_independent": (bool, None)})

