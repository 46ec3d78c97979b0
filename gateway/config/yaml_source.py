"""YAML reading that remembers where every value came from.

Operators edit config and policy files by hand, so a mistake must be reported as `file:line: key.path: what is
wrong`, not as a stack trace. We compose the YAML node tree (which carries line marks), expand `${ENV}` references
in scalars before types are resolved (so `port: ${PORT}` becomes an int), and keep a map from key path to line.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")


def format_path(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


@dataclass
class ConfigIssue:
    """One mistake in a file, located precisely enough for an editor to jump to it."""

    file: str
    path: Path
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {format_path(self.path)}: {self.message}"


class ConfigError(Exception):
    """Raised with every issue found, so one run of `gateway policy check` shows them all."""

    def __init__(self, issues: list[ConfigIssue]):
        self.issues = sorted(issues, key=lambda issue: (issue.file, issue.line or 0))
        super().__init__("\n".join(str(issue) for issue in issues))


@dataclass
class YamlSource:
    """Parsed data plus the line of every key path, for error reporting by the validators."""

    file: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)

    def line_of(self, path: Path) -> int | None:
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def issue(self, path: Path, message: str) -> None:
        self.issues.append(ConfigIssue(self.file, path, self.line_of(path), message))


def load_yaml(text: str, file: str, environ: dict[str, str] | None = None) -> YamlSource:
    """Parse YAML text; syntax errors and unset `${ENV}` references become ConfigError with lines."""
    env = os.environ if environ is None else environ
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return YamlSource(file, {})
        source = YamlSource(file, None)
        _expand_and_index(node, (), source, loader, env)
        source.data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else None
        raise ConfigError([ConfigIssue(file, (), line, f"invalid YAML: {getattr(exc, 'problem', exc)}")]) from None
    finally:
        loader.dispose()
    if source.issues:
        raise ConfigError(source.issues)
    return source


def load_yaml_file(path: str, environ: dict[str, str] | None = None) -> YamlSource:
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ConfigError([ConfigIssue(path, (), None, f"cannot read file: {exc.strerror}")]) from None
    return load_yaml(text, path, environ)


def _expand_and_index(node: yaml.Node, path: Path, source: YamlSource, loader: yaml.SafeLoader,
                      env: Any) -> None:
    source.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.value)
            _expand_and_index(value_node, path + (key,), source, loader, env)
            source.lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _expand_and_index(item, path + (index,), source, loader, env)
    elif isinstance(node, yaml.ScalarNode) and node.style is None and "${" in node.value:
        node.value = _expand(node.value, path, source, env)
        node.tag = loader.resolve(yaml.ScalarNode, node.value, (True, False))
    elif isinstance(node, yaml.ScalarNode) and "${" in node.value:
        node.value = _expand(node.value, path, source, env)


def _expand(value: str, path: Path, source: YamlSource, env: Any) -> str:
    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        source.issue(path, f"environment variable {name} is not set (write ${{{name}:-default}} to allow that)")
        return ""

    return _ENV_REF.sub(substitute, value)
