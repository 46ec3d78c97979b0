"""Calls to OpenAI-compatible upstreams over one pooled aiohttp session.

One session for the whole process keeps TCP and TLS connections warm (a new TLS handshake per request would cost
more than everything else the gateway does). Transport failures become APIError with the status an OpenAI client
expects: 504 for a timeout, 502 for an unreachable or misbehaving upstream, and the upstream's own status for client
errors and rate limits, so the SDKs' retry logic does the right thing.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

import aiohttp
import orjson

from gateway.config.settings import ProviderSettings
from gateway.server.errors import APIError, mask_secrets, upstream_error
from gateway.server.timing import TimedResponse, UpstreamSpan, upstream_failed
from gateway.upstream.breaker import Breakers
from gateway.upstream.retry import CIRCUIT_OPEN, RetryPolicy, with_retries

log = logging.getLogger(__name__)
T = TypeVar("T")

# Headers of an upstream error response worth passing on: they tell the client when to retry.
_RETRY_HEADERS = ("retry-after", "retry-after-ms", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests",
                  "x-ratelimit-reset-requests", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens",
                  "x-ratelimit-reset-tokens")


class UpstreamClient:
    def __init__(self) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[tuple[Any, ...], aiohttp.ClientTimeout] = {}
        self.retries: dict[str, int] = {}  # retried upstream failures by code, for /metrics
        self.breakers = Breakers()

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0, ttl_dns_cache=300, keepalive_timeout=60)
        # No cookie jar: cookies an upstream sets must not be shared between the gateway's many clients.
        self._session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(),
                                              skip_auto_headers=("User-Agent",), response_class=TimedResponse)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, provider: ProviderSettings, path: str, body: bytes, *, stream: bool,
                   api_key: str | None, model: str | None = None) -> aiohttp.ClientResponse:
        """Send a request; a returned response has status < 400 (errors are raised as APIError). With `model`,
        the call goes through that upstream model's circuit breaker."""
        breaker = self.breakers.get(f"{provider.name}/{model}") if model else None
        if breaker is not None and not breaker.allow():
            raise upstream_error(503, f"The upstream model '{model}' at '{provider.name}' is failing; the gateway "
                                 "stopped calling it for a while.", CIRCUIT_OPEN)
        try:
            response = await self._send(provider, path, body, stream=stream, api_key=api_key)
        except APIError as error:
            if breaker is not None and error.status >= 500:
                breaker.record(False)
            raise
        if breaker is not None:
            breaker.record(True)
        return response

    async def _send(self, provider: ProviderSettings, path: str, body: bytes, *, stream: bool,
                    api_key: str | None) -> aiohttp.ClientResponse:
        assert self._session is not None, "UpstreamClient.start() was not awaited"
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream" if stream else "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        span = UpstreamSpan(provider.name)  # ended when the response is released (timing.TimedResponse)
        try:
            response = await until_first_byte(provider, self._session.post(
                provider.base_url + path, data=body, headers=headers, timeout=self._timeout(provider, stream)), stream)
        except FirstByteTimeout:
            span.end()
            raise first_byte_timeout(provider) from None
        except Exception as exc:
            span.end()
            raise transport_error(provider, exc) from None
        response.span = span
        if response.status >= 400:
            raise status_error(provider, response.status, await read_all(provider, response), response.headers)
        return response

    async def fetch(self, provider: ProviderSettings, path: str, body: bytes, *, api_key: str | None,
                    model: str | None = None, accept: Callable[[bytes], T] = bytes) -> T:
        """A non-streamed call's whole answer, retried (see retry.py) until it is read, and accepted by `accept`
        (which may raise a retryable APIError for a garbled answer), or fails for good."""
        async def attempt() -> T:
            response = await self.post(provider, path, body, stream=False, api_key=api_key, model=model)
            return accept(await read_all(provider, response))

        return await with_retries(attempt, RetryPolicy(retries=provider.max_retries), on_retry=self._count_retry)

    async def open_stream(self, provider: ProviderSettings, path: str, body: bytes, *, api_key: str | None,
                          model: str | None = None) -> aiohttp.ClientResponse:
        """A streamed call up to its response headers, retried while the client has seen nothing."""
        return await with_retries(lambda: self.post(provider, path, body, stream=True, api_key=api_key, model=model),
                                  RetryPolicy(retries=provider.max_retries), on_retry=self._count_retry)

    def _count_retry(self, error: APIError) -> None:
        self.retries[error.code or str(error.status)] = self.retries.get(error.code or str(error.status), 0) + 1

    def _timeout(self, provider: ProviderSettings, stream: bool) -> aiohttp.ClientTimeout:
        """Non-streamed calls get a total deadline; streams a limit on silence between chunks, and a total one if
        configured. (The first byte's deadline is until_first_byte's.) Keyed by the values: models may differ."""
        key = (stream, provider.connect_timeout_s, provider.timeout_s, provider.stream_idle_timeout_s,
               provider.stream_timeout_s)
        timeout = self._timeouts.get(key)
        if timeout is None:
            if stream:
                timeout = aiohttp.ClientTimeout(total=provider.stream_timeout_s, connect=provider.connect_timeout_s,
                                                sock_read=provider.stream_idle_timeout_s)
            else:
                timeout = aiohttp.ClientTimeout(total=provider.timeout_s, connect=provider.connect_timeout_s)
            self._timeouts[key] = timeout
        return timeout


class FirstByteTimeout(Exception):
    """Nothing of the answer arrived within the first-byte timeout."""


async def until_first_byte(provider: ProviderSettings, request: Awaitable[aiohttp.ClientResponse],
                           stream: bool) -> aiohttp.ClientResponse:
    """The response once its first byte is in: its headers (a non-streamed answer comes whole with them), and for
    a stream its first chunk too (kept in `first_chunk` for the relay). Within `first_byte_timeout_s`, if set: until
    then the client has seen nothing, so the caller may still retry or fall back."""
    async def first_byte() -> aiohttp.ClientResponse:
        response = await request
        if stream and response.status < 400:
            try:
                response.first_chunk = await response.content.readany()
            except BaseException:
                response.close()
                raise
        return response

    if provider.first_byte_timeout_s is None:
        return await first_byte()
    try:
        return await asyncio.wait_for(first_byte(), provider.first_byte_timeout_s)
    except asyncio.TimeoutError:
        raise FirstByteTimeout() from None


async def stream_chunks(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """A stream's bytes as they come, starting with the first chunk until_first_byte already read."""
    first = getattr(response, "first_chunk", b"")
    if first:
        yield first
    async for data in response.content.iter_any():
        yield data


def stream_timeout(provider: ProviderSettings, exc: BaseException) -> APIError:
    """A stream that timed out after its first byte (so it is not retried): silent too long, or past its total."""
    upstream_failed(provider.name, None)
    if isinstance(exc, aiohttp.SocketTimeoutError):
        what = f"went silent for more than {provider.stream_idle_timeout_s:g} s"
    elif provider.stream_timeout_s is not None:
        what = f"ran past its stream timeout ({provider.stream_timeout_s:g} s)"
    else:
        what = "timed out"
    return upstream_error(504, f"The upstream provider '{provider.name}' {what} in the middle of a stream.",
                          "upstream_timeout")


def first_byte_timeout(provider: ProviderSettings) -> APIError:
    upstream_failed(provider.name, None)
    return upstream_error(504, f"The upstream provider '{provider.name}' sent nothing within its first-byte timeout "
                          f"({provider.first_byte_timeout_s:g} s).", "upstream_timeout")


async def read_all(provider: ProviderSettings, response: aiohttp.ClientResponse) -> bytes:
    """The whole body, the connection given back to the pool whatever happens."""
    try:
        return await response.read()
    except Exception as exc:
        raise transport_error(provider, exc) from None
    finally:
        response.release()


def transport_error(provider: ProviderSettings, exc: BaseException) -> APIError:
    """A failure to get a (whole) answer from the upstream, as the client should see it."""
    name = provider.name
    upstream_failed(name, None)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return upstream_error(504, f"The upstream provider '{name}' did not answer in time.", "upstream_timeout")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return upstream_error(502, f"The upstream provider '{name}' could not be reached.", "upstream_unreachable")
    if isinstance(exc, aiohttp.ClientPayloadError):
        return upstream_error(502, f"The upstream provider '{name}' ended its answer before it was complete.",
                              "upstream_incomplete")
    if isinstance(exc, (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError, ConnectionError)):
        return upstream_error(502, f"The upstream provider '{name}' closed the connection.",
                              "upstream_connection_reset")
    log.warning("upstream %s failed: %s", name, mask_secrets(repr(exc)))
    return upstream_error(502, f"The upstream provider '{name}' failed.", "upstream_error")


def status_error(provider: ProviderSettings, status: int, payload: bytes, headers: Any) -> APIError:
    """An upstream error response, relayed as the client should see it.

    Client mistakes (400, 404, 422) and rate limits (429) keep their status and the upstream's message. A 401/403
    means the *gateway's* credentials were refused, which the client cannot fix: that is a 502, unless the client's
    own key was passed through. Upstream server errors become 502 (503 stays 503: "try again later").
    """
    upstream_failed(provider.name, status)
    error = _error_object(payload)
    message = str(error.get("message") or f"HTTP {status}")
    retry_headers = {name: headers[name] for name in _RETRY_HEADERS if name in headers}
    if status in (401, 403) and not provider.key_passthrough:
        log.error("upstream %s rejected the gateway's credentials (HTTP %d)", provider.name, status)
        return upstream_error(502, f"The upstream provider '{provider.name}' rejected the gateway's credentials.",
                              "upstream_auth_failed")
    if status < 500:
        return APIError(status, message, type=str(error.get("type") or "invalid_request_error"),
                        param=error.get("param") if isinstance(error.get("param"), str) else None,
                        code=str(error["code"]) if error.get("code") is not None else None, headers=retry_headers)
    gateway_status = 503 if status == 503 else 502
    return upstream_error(gateway_status, f"The upstream provider '{provider.name}' failed with HTTP {status}: "
                          f"{message}", "upstream_unavailable" if status == 503 else "upstream_server_error",
                          retry_headers)


def _error_object(payload: bytes) -> dict[str, Any]:
    try:
        parsed = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return {"message": payload[:200].decode("utf-8", "replace").strip() or None}
    error = parsed.get("error") if isinstance(parsed, dict) else None
    if isinstance(error, dict):
        return error
    if isinstance(error, str):
        return {"message": error}
    return {}
