"""One `auth.keys[]` entry: the key's hash, and what it may do (models, a spend budget, rate limits).

Kept apart from settings.py so the key schema lives in one place. A key is accepted either in clear (`key:`) or as
its SHA-256 (`key_sha256:`, what `gateway keys create` prints), so the config file need not hold a secret.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from gateway.config.reader import Reader
from gateway.config.yaml_source import Path

PERIODS = ("day", "month", "total")
AUTH_KEYS = ("keys", "keys_env", "reservation_timeout_s", "reload_interval_s")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
ENTRY_KEYS = ("key", "key_sha256", "name", "tenant", "models", "budget", "limits")


@dataclass(frozen=True)
class Budget:
    usd: float
    period: str = "month"      # day | month (UTC calendar) | total (never resets)


@dataclass(frozen=True)
class KeyLimits:
    """What a key may do; None everywhere means unlimited (the default, as before keys had limits)."""

    models: tuple[str, ...] = ()                 # fnmatch globs; empty: every model
    budget: Budget | None = None
    requests_per_minute: int | None = None
    tokens_per_minute: int | None = None

    @property
    def limited(self) -> bool:
        return bool(self.budget or self.requests_per_minute or self.tokens_per_minute)


NO_LIMITS = KeyLimits()


@dataclass(frozen=True)
class AuthSettings:
    """The `auth` options besides the keys themselves.

    `reservation_timeout_s`: how long a request's budget reservation may stay unsettled before an admission releases
    it (a replica that died mid-request must not hold a key's budget forever); longer than any request should last.
    `reload_interval_s`: how often the config file is checked for changed keys (revocation without a restart)."""

    reservation_timeout_s: float = 900.0
    reload_interval_s: float = 1.0


def read_auth_settings(reader: Reader, data: dict[str, Any], path: Path) -> AuthSettings:
    defaults = AuthSettings()
    return AuthSettings(
        reservation_timeout_s=reader.value(data, path, "reservation_timeout_s", float,
                                           defaults.reservation_timeout_s, minimum=0.1),
        reload_interval_s=reader.value(data, path, "reload_interval_s", float, defaults.reload_interval_s,
                                       minimum=0.05))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def read_key_entry(reader: Reader, entry: dict[str, Any], path: Path) -> tuple[str | None, KeyLimits]:
    """The entry's key digest (None after a reported mistake) and its limits."""
    reader.known_keys(entry, path, ENTRY_KEYS)
    return _digest(reader, entry, path), KeyLimits(
        models=tuple(reader.string_list(entry, path, "models")),
        budget=_read_budget(reader, reader.mapping(entry.get("budget"), path + ("budget",)), path + ("budget",)),
        **_read_rates(reader, reader.mapping(entry.get("limits"), path + ("limits",)), path + ("limits",)))


def _digest(reader: Reader, entry: dict[str, Any], path: Path) -> str | None:
    if ("key" in entry) == ("key_sha256" in entry):
        reader.issue(path + ("key",), "give exactly one of key or key_sha256")
        return None
    if "key" in entry:
        key = reader.value(entry, path, "key", str, required=True)
        return hash_key(key) if key else None
    digest = (reader.value(entry, path, "key_sha256", str, required=True) or "").lower()
    if not _SHA256.match(digest):
        reader.issue(path + ("key_sha256",), "must be 64 hex digits (see `gateway keys hash`)")
        return None
    return digest


def _read_budget(reader: Reader, data: dict[str, Any], path: Path) -> Budget | None:
    if not data:
        return None
    reader.known_keys(data, path, ("usd", "period"))
    usd = reader.value(data, path, "usd", float, required=True, minimum=0)
    period = reader.value(data, path, "period", str, "month", choices=PERIODS)
    return Budget(usd, period) if usd is not None else None


def _read_rates(reader: Reader, data: dict[str, Any], path: Path) -> dict[str, int | None]:
    reader.known_keys(data, path, ("requests_per_minute", "tokens_per_minute"))
    return {name: reader.value(data, path, name, int, None, minimum=1)
            for name in ("requests_per_minute", "tokens_per_minute")}
