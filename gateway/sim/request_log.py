"""The last requests the simulator received, so tests can check what the gateway really sent upstream.

Keys never appear: the Authorization header is kept only as its SHA-256, enough to tell which key was used.
"""

from __future__ import annotations

import hashlib
import time
from collections import deque
from typing import Any


class RequestLog:
    def __init__(self, capacity: int = 50) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=capacity)

    def record(self, method: str, path: str, body: Any, authorization: str | None) -> None:
        model = body.get("model") if isinstance(body, dict) else None
        self._entries.append({
            "received_at": time.time(),
            "method": method,
            "path": path,
            "model": model if isinstance(model, str) else None,
            "body": body,
            "authorization_sha256": hashlib.sha256(authorization.encode()).hexdigest() if authorization else None,
        })

    def entries(self) -> list[dict[str, Any]]:
        """Oldest first, newest last."""
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()
