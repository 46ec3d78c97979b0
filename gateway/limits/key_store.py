"""The client keys in force, reloaded when the config file changes, never replaced by a broken file.

Revoking a key, or changing its budget, limits or allowed models, must not need a restart (a restart drops every
stream in flight). The store polls the config file (gateway/config/file_watch.py) and, when it changed, loads it
whole with the same validation as at start-up; only the keys (`auth.keys`, and `auth.keys_env`'s environment
variable) are taken from it, the rest of the file still needs a restart. A file that does not load keeps the last
good keys in force and is reported in the log, `/readyz` (`status: degraded`) and `/metrics`.

A gateway that started with client keys never becomes an open one by a reload: a file with no keys left then
refuses every caller (401) until keys are added back or the gateway is restarted.
"""

from __future__ import annotations

import logging
import os
import time

from gateway.config.file_watch import FileStamp, poll
from gateway.config.settings import ClientKey, Settings, load_settings
from gateway.config.yaml_source import ConfigError
from gateway.server.errors import mask_secrets

log = logging.getLogger(__name__)


class KeyStore:
    def __init__(self, settings: Settings) -> None:
        self.keys: dict[str, ClientKey] = dict(settings.client_keys)
        self.required = bool(self.keys)          # client auth on; a reload cannot turn it off
        self.reloads = 0
        self.reload_errors = 0
        self.error: str | None = None
        self.last_reload_at = time.time()
        self._upstream_override = settings.upstream_override
        path = settings.source_file
        self._file = FileStamp(path) if path and os.path.isfile(path) else None
        if self._file is not None:
            self._file.changed()                 # the content the settings were loaded from

    def get(self, key_sha256: str) -> ClientKey | None:
        return self.keys.get(key_sha256)

    def reload_changed(self) -> None:
        """One polling pass: when the file changed, take its keys if it loads, else keep the current ones."""
        if self._file is None or not self._file.changed():
            return
        try:
            settings = load_settings(self._file.path, self._upstream_override)
        except (ConfigError, OSError) as exc:
            self.reload_errors += 1
            self.error = mask_secrets(str(exc))
            log.error("config file %s is invalid, keeping the %d client keys in force:\n%s", self._file.path,
                      len(self.keys), self.error)
            return
        self._take(settings.client_keys)

    def _take(self, keys: dict[str, ClientKey]) -> None:
        removed, added = len(set(self.keys) - set(keys)), len(set(keys) - set(self.keys))
        self.keys, self.error = dict(keys), None
        self.reloads += 1
        self.last_reload_at = time.time()
        log.info("client keys reloaded from %s: %d in force (%d added, %d removed)", self._file.path if self._file
                 else "", len(keys), added, removed)
        if self.required and not keys:
            log.warning("the config now has no client keys: every request is refused until keys are added back")

    async def watch(self, interval_s: float) -> None:
        await poll(interval_s, self.reload_changed, "client key")

    def status(self) -> dict[str, object]:
        """For /readyz and /metrics (counts only: never a key or its hash)."""
        return {"keys": len(self.keys), "reloads": self.reloads, "reload_errors": self.reload_errors,
                "error": self.error}
