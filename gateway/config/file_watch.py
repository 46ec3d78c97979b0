"""Noticing that a file changed, cheaply and reliably, for the stores that hot-reload (policies, client keys).

Files are polled (modification time and size, then a content hash) rather than watched with inotify: ConfigMap
volumes in Kubernetes swap a symlink, which inotify watchers routinely miss, and polling a few files once a second
costs nothing. The hash keeps a touched but unchanged file from counting as a reload.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass
from typing import Callable

log = logging.getLogger(__name__)


@dataclass
class FileStamp:
    path: str
    stamp: tuple[float, int] = (0.0, 0)
    digest: str = ""

    def changed(self) -> bool:
        """Whether the content differs from what the last True answer saw (the first look counts as a change).
        A missing or unreadable file is no change: deleting a file must not be a way to break traffic."""
        try:
            stat = os.stat(self.path)
            stamp = (stat.st_mtime, stat.st_size)
            if stamp == self.stamp:
                return False
            with open(self.path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
        except OSError:
            return False
        self.stamp = stamp
        if digest == self.digest:
            return False
        self.digest = digest
        return True


async def poll(interval_s: float, one_pass: Callable[[], None], what: str) -> None:
    """Run `one_pass` every `interval_s`, forever. A pass that raises is logged and polling goes on: a watcher that
    died silently would freeze what it watches."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            one_pass()
        except Exception:
            log.exception("%s reload pass failed", what)
