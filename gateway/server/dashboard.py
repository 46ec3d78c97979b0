"""`GET /dashboard` (one self-contained HTML page) and `GET /v1/gateway/dashboard-data` (the figures it polls).

The page holds no data and no secret, so it loads for anyone; the data endpoint is protected like the API: when
client keys are configured it needs one (`Authorization: Bearer`), and without it answers 401 in OpenAI's format.
The page asks for the key and keeps it in the tab's sessionStorage. All figures are this replica's.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib.resources import files

from aiohttp import web

from gateway.policy.store import PolicyStore
from gateway.server.ingress import authenticate
from gateway.server.state import STATE, GatewayState

# The page runs only its own inline script and talks only to this origin.
_PAGE_HEADERS = {"Content-Security-Policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline';"
                 " connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'",
                 "Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}


@lru_cache(maxsize=1)
def _page() -> bytes:
    return files("gateway.server").joinpath("static/dashboard.html").read_bytes()


async def page(request: web.Request) -> web.Response:
    return web.Response(body=_page(), content_type="text/html", charset="utf-8", headers=_PAGE_HEADERS)


async def data(request: web.Request) -> web.Response:
    state = request.app[STATE]
    authenticate(request, state.keys)
    return web.json_response(dashboard_data(state), headers={"Cache-Control": "no-store"})


def dashboard_data(state: GatewayState) -> dict[str, object]:
    """The stats endpoint's figures plus what only the dashboard needs: time series, recent outcomes, cache hit
    rate, workers in flight and policy reload state."""
    ledger, stats = state.ledger, state.cache.stats
    hits = sum(stats.hits.values())
    lookups = hits + stats.misses
    return {"stats": ledger.snapshot(), "history": ledger.history.snapshot(),
            "cache": {"hits": hits, "misses": stats.misses, "lookups": lookups,
                      "hit_rate": round(hits / lookups, 6) if lookups else 0.0},
            "workers_in_flight": ledger.split.workers_in_flight, "policies": _policy_state(state.decider.policies)}


def _policy_state(store: PolicyStore) -> dict[str, object]:
    """Reload counts and which files are in error, by file name only (paths say more about the host than needed)."""
    status = store.status()
    return {"default": status["default"], "loaded": status["loaded"], "reloads": status["reloads"],
            "reload_errors": status["reload_errors"], "last_reload_at": store.last_reload_at,
            "files_in_error": sorted(os.path.basename(path) for path in status["errors"])}
