"""The policies in force, reloaded when their files change, never replaced by a broken file.

Files are polled (gateway/config/file_watch.py). Each file is tracked on its own: a mistake in one keeps that
file's last good version in force and is reported (log, `/readyz`, `/metrics`) while the others reload normally. At start-up a broken file is fatal, so a
bad rollout fails loudly instead of serving without its policy.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field

from gateway.config.file_watch import FileStamp, poll
from gateway.config.yaml_source import ConfigError, ConfigIssue
from gateway.policy.loader import Catalog, load_policy_file, name_clashes
from gateway.policy.schema import Policy
from gateway.server.errors import APIError

log = logging.getLogger(__name__)


@dataclass
class _TrackedFile:
    path: str
    policy: Policy | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        self.file = FileStamp(self.path)


@dataclass
class PolicyStore:
    paths: tuple[str, ...]
    default_name: str
    client_selectable: bool
    catalog: Catalog
    files: dict[str, _TrackedFile] = field(default_factory=dict)
    reloads: int = 0
    reload_errors: int = 0
    last_reload_at: float = 0.0

    def load(self) -> None:
        """Initial load: every mistake in every file is raised at once, and the default policy must exist."""
        issues = []
        for path in self._policy_files():
            tracked = self.files.setdefault(path, _TrackedFile(path))
            try:
                self._refresh(tracked, initial=True)
            except ConfigError as exc:
                issues.extend(exc.issues)
        if issues:
            raise ConfigError(issues)
        if self.default_name not in self.policies():
            raise _missing_default(self.default_name, self.policies())

    def policies(self) -> dict[str, Policy]:
        return {t.policy.name: t.policy for t in self.files.values() if t.policy is not None}

    def select(self, requested: str | None) -> Policy:
        """The policy for a request: the client's choice where allowed, else the default."""
        policies = self.policies()
        if requested and self.client_selectable:
            policy = policies.get(requested)
            if policy is None:
                raise APIError(400, f"Unknown policy '{requested}'; available: {', '.join(sorted(policies))}.",
                               param="x-gateway-policy", code="unknown_policy")
            return policy
        return policies[self.default_name]

    def reload_changed(self) -> None:
        """One polling pass: reload files whose stamp and content changed; keep the last good one on errors."""
        for path in self._policy_files():
            tracked = self.files.setdefault(path, _TrackedFile(path))
            try:
                self._refresh(tracked, initial=False)
            except ConfigError as exc:
                self.reload_errors += 1
                tracked.error = str(exc)
                kept = f"keeping policy '{tracked.policy.name}' as it was" if tracked.policy else "not loaded"
                log.error("policy file %s is invalid, %s:\n%s", path, kept, exc)

    async def watch(self, interval_s: float) -> None:
        await poll(interval_s, self.reload_changed, "policy")

    def status(self) -> dict[str, object]:
        return {"default": self.default_name, "loaded": sorted(self.policies()), "reloads": self.reloads,
                "reload_errors": self.reload_errors,
                "errors": {t.path: t.error for t in self.files.values() if t.error}}

    def _refresh(self, tracked: _TrackedFile, *, initial: bool) -> None:
        if not tracked.file.changed():
            return  # unchanged, or removed while running (it keeps its last version)
        policy = load_policy_file(tracked.path, self.catalog)  # raises ConfigError: the caller keeps the old one
        clashes = name_clashes(policy, (t.policy for t in self.files.values() if t is not tracked and t.policy))
        if clashes:  # taking it would silently replace another file's policy of that name
            raise ConfigError(clashes)
        tracked.policy, tracked.error = policy, None
        self.reloads += 0 if initial else 1
        self.last_reload_at = time.time()
        if not initial:
            log.info("policy '%s' reloaded from %s", policy.name, tracked.path)

    def _policy_files(self) -> list[str]:
        files = []
        for path in self.paths:
            if os.path.isdir(path):
                files += sorted(os.path.join(path, name) for name in os.listdir(path)
                                if name.endswith((".yaml", ".yml")))
            else:
                files.append(path)
        return files


def _missing_default(name: str, policies: dict[str, Policy]) -> ConfigError:
    return ConfigError([ConfigIssue("policies", ("policies", "default"), None,
                                    f"default policy '{name}' is not among the loaded policies: "
                                    f"{', '.join(sorted(policies)) or 'none'}")])
