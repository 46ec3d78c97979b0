"""OpenAI-style errors: every failure a client sees is `{"error": {message, type, param, code}}` with a fitting status.

The official SDKs map statuses to exception classes (400 BadRequestError, 401 AuthenticationError, 404 NotFoundError,
429 RateLimitError, >=500 InternalServerError) and retry 408/429/5xx, so picking the right status matters as much as
the message. Messages never carry secrets: anything that looks like an API key is masked before it leaves.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

_KEY_LIKE = re.compile(r"\b(sk|pk|rk|key)[-_][A-Za-z0-9_\-*.]{6,}", re.IGNORECASE)
_BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)


def mask_secrets(text: str) -> str:
    """Mask API-key-like tokens, e.g. in an upstream's "Incorrect API key provided: sk-..." message."""
    return _BEARER.sub(r"\1***", _KEY_LIKE.sub(lambda m: m.group(1) + "-***", text))


class APIError(Exception):
    """An error to report to the client in OpenAI's format."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = mask_secrets(message)
        self.type = type
        self.param = param
        self.code = code
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}

    def to_response(self, extra_headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(status=self.status, body=orjson.dumps(self.body()), content_type="application/json",
                            headers={**self.headers, **(extra_headers or {})})


def invalid(message: str, param: str | None = None, code: str | None = "invalid_value") -> APIError:
    return APIError(400, message, param=param, code=code)


def upstream_error(status: int, message: str, code: str, headers: dict[str, str] | None = None) -> APIError:
    return APIError(status, message, type="upstream_error", code=code, headers=headers)


def internal_error(request_id: str) -> APIError:
    return APIError(500, f"The gateway failed to process request {request_id}; the error was logged.",
                    type="server_error", code="internal_error")


_HTTP_EXCEPTION_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}


def from_http_exception(exc: web.HTTPException) -> APIError:
    """aiohttp's own errors (unknown route, wrong method, body over the limit) in OpenAI's format."""
    if exc.status == 413:
        message = "Request body too large: " + (exc.text or "").removeprefix("413: ").strip()
    elif exc.status == 404:
        message = "Unknown endpoint. This gateway serves /v1/chat/completions, /v1/models and /v1/embeddings."
    else:
        message = exc.reason
    return APIError(exc.status, message, code=_HTTP_EXCEPTION_CODES.get(exc.status))
