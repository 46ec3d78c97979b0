"""Ingress: who is calling, and what they asked for, as a validated request.

Client authentication is optional (an open gateway on loopback is a fine trial setup). When gateway keys are
configured, a client proves itself with `Authorization: Bearer <gateway key>`; for providers where the operator
enabled key pass-through, the client may instead send its gateway key in `x-gateway-api-key` and its own provider
key as the bearer, which then, and only then, goes upstream.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from aiohttp import web

from gateway.config.settings import ClientKey, ProviderSettings, hash_key
from gateway.limits.key_store import KeyStore
from gateway.server.errors import APIError, invalid
from gateway.server.validation import ChatRequest, validate_chat_request


@dataclass(frozen=True)
class ClientIdentity:
    name: str | None
    tenant: str | None
    # The caller's bearer token when it was not spent on gateway authentication: a candidate for key pass-through.
    forwardable_key: str | None
    key: ClientKey | None = None     # the configured key (its hash and limits); None on an open gateway


ANONYMOUS = ClientIdentity(None, None, None)


def authenticate(request: web.Request, keys: KeyStore) -> ClientIdentity:
    """The caller, by the keys in force now (they hot-reload: a revoked key fails on its next request)."""
    bearer = _bearer(request.headers.get("Authorization", ""))
    if not keys.required:
        return ClientIdentity(None, None, bearer)
    gateway_key = request.headers.get("x-gateway-api-key")
    presented = gateway_key if gateway_key is not None else bearer
    if not presented:
        raise APIError(401, "You didn't provide an API key. Send it as 'Authorization: Bearer <key>'.",
                       code="missing_api_key")
    # Looked up by SHA-256: comparison timing can then reveal nothing about the key itself.
    client = keys.get(hash_key(presented))
    if client is None:
        raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")
    return ClientIdentity(client.name, client.tenant, bearer if gateway_key is not None else None, client)


def upstream_api_key(provider: ProviderSettings, client: ClientIdentity) -> str | None:
    """The key sent upstream: the gateway's own, or the client's only where the operator allows pass-through."""
    if provider.key_passthrough:
        if not client.forwardable_key:
            raise APIError(401, f"Provider '{provider.name}' uses your own API key: send it as the bearer token"
                           " (and the gateway key, if any, in 'x-gateway-api-key').", code="missing_api_key")
        return client.forwardable_key
    return provider.api_key


async def read_json_body(request: web.Request) -> tuple[object, bytes]:
    raw = await request.read()
    if not raw:
        raise invalid("The request body is empty; send a JSON object.", None, "invalid_json")
    try:
        return orjson.loads(raw), raw
    except orjson.JSONDecodeError as exc:
        raise invalid(f"We could not parse the JSON body of your request ({exc.msg} at position {exc.pos}).",
                      None, "invalid_json") from None


async def read_chat_request(request: web.Request) -> tuple[ChatRequest, bytes]:
    body, raw = await read_json_body(request)
    return validate_chat_request(body), raw


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
