"""The reference a gateway is measured against: the least a Python proxy can do.

A bare aiohttp server that forwards `POST /v1/chat/completions` to one upstream and relays the answer, streaming
it back chunk by chunk when the upstream streams. It is meant to be fair, not a strawman: uvloop, no access log,
one pooled keep-alive `ClientSession`, no JSON parsing, bytes in and bytes out. Whatever CPU time the gateway
spends above this per request is the price of its features, not of being a Python proxy.

    python bench/passthrough.py --port 8081 --upstream http://127.0.0.1:8080/v1
"""

from __future__ import annotations

import argparse
import asyncio
from typing import AsyncIterator

from aiohttp import ClientSession, ClientTimeout, DummyCookieJar, TCPConnector, web

# Request headers worth relaying; hop-by-hop ones (Host, Connection, Content-Length) are for aiohttp to set.
_FORWARD_HEADERS = ("Authorization", "Content-Type", "Accept", "OpenAI-Organization", "OpenAI-Project")
# Response headers relayed back; bytes are passed through undecoded, so Content-Encoding must travel with them.
_RELAY_HEADERS = ("Content-Type", "Content-Encoding", "Cache-Control", "x-request-id")
_UPSTREAM = web.AppKey("upstream", str)
_SESSION = web.AppKey("session", ClientSession)


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Relay one completion; SSE answers go out chunk by chunk as they arrive, others in one piece."""
    body = await request.read()
    headers = {name: request.headers[name] for name in _FORWARD_HEADERS if name in request.headers}
    url = request.app[_UPSTREAM] + "/chat/completions"
    async with request.app[_SESSION].post(url, data=body, headers=headers) as upstream:
        out_headers = {name: upstream.headers[name] for name in _RELAY_HEADERS if name in upstream.headers}
        if not out_headers.get("Content-Type", "").startswith("text/event-stream"):
            return web.Response(status=upstream.status, body=await upstream.read(), headers=out_headers)
        response = web.StreamResponse(status=upstream.status, headers=out_headers)
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def healthz(_: web.Request) -> web.Response:
    """Readiness probe, same path as the gateway's so the benchmark waits on both alike."""
    return web.Response(text="ok")


def make_app(upstream: str) -> web.Application:
    """The app with one pooled client session that lives exactly as long as the server."""
    app = web.Application()
    app[_UPSTREAM] = upstream.rstrip("/")

    async def session_ctx(app: web.Application) -> AsyncIterator[None]:
        # No connection cap: the upstream pool must never be what limits throughput at high concurrency.
        connector = TCPConnector(limit=0, ttl_dns_cache=None)
        app[_SESSION] = ClientSession(connector=connector, cookie_jar=DummyCookieJar(),
                                      timeout=ClientTimeout(total=None, sock_read=300), auto_decompress=False)
        yield
        await app[_SESSION].close()

    app.cleanup_ctx.append(session_ctx)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/healthz", healthz)
    return app


def main() -> None:
    """Parse flags and serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--upstream", required=True, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:8080/v1")
    args = parser.parse_args()
    try:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        pass
    print(f"passthrough listening on http://{args.host}:{args.port}/v1 -> {args.upstream}", flush=True)
    web.run_app(make_app(args.upstream), host=args.host, port=args.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
