"""OpenAI-format error responses, so clients and the gateway exercise their real error handling paths."""

from __future__ import annotations

from typing import Mapping

import orjson
from aiohttp import web


def error_body(message: str, type_: str, param: str | None = None, code: str | None = None) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": type_, "param": param, "code": code}})


def error_response(status: int, message: str, type_: str = "invalid_request_error", param: str | None = None,
                   code: str | None = None, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=error_body(message, type_, param, code),
                        content_type="application/json", headers=headers)


def invalid_request(message: str, param: str | None = None, code: str | None = None) -> web.Response:
    return error_response(400, message, "invalid_request_error", param, code)


def invalid_api_key() -> web.Response:
    # Like OpenAI, never echo the key that was sent.
    return error_response(401, "Incorrect API key provided. You can find your API key in your account settings.",
                          "invalid_request_error", None, "invalid_api_key")


def missing_api_key() -> web.Response:
    return error_response(401, "You didn't provide an API key. You need to provide your API key in an "
                          "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                          "invalid_request_error", None, None)
