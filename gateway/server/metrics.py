"""`GET /metrics`: what the replica did, in Prometheus text (see prom.py for the format, timing.py for latencies).

Every figure is this replica's own; Prometheus sums them across replicas. Label values are bounded: endpoints are
route templates, models are catalog names (anything else is `other`), providers and mechanisms come from the
configuration and the code, never from a request.
"""

from __future__ import annotations

from aiohttp import web

from gateway.accounting.ledger import Ledger, Totals
from gateway.cache.service import CacheService
from gateway.limits.key_store import KeyStore
from gateway.limits.service import LimitService
from gateway.policy.store import PolicyStore
from gateway.server.prom import family, histograms
from gateway.server.state import STATE
from gateway.server.timing import Histogram, Telemetry
from gateway.upstream.client import UpstreamClient

_GAUGES = {"workers_in_flight"}  # SplitCounters fields that are levels, not counts


async def render(request: web.Request) -> web.Response:
    state = request.app[STATE]
    models = {spec.name for spec in state.settings.catalog()}
    lines = (traffic_lines(state.telemetry) + ledger_lines(state.ledger, models) + split_lines(state.ledger)
             + resilience_lines(state.ledger, state.upstream) + policy_lines(state.decider.policies)
             + cache_lines(state.cache) + limit_lines(state.limits) + key_lines(state.keys))
    return web.Response(body=("\n".join(lines) + "\n").encode(),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def traffic_lines(telemetry: Telemetry) -> list[str]:
    """HTTP requests by outcome, latency split into upstream time and the gateway's own, upstream failures."""
    requests = [({"endpoint": e, "route": r, "status_class": c}, n) for (e, r, c), n in sorted(telemetry.requests.items())]
    errors = [({"provider": p, "status_class": c}, n) for (p, c), n in sorted(telemetry.upstream_errors.items())]
    return (family("gateway_http_requests_total", "counter", "HTTP requests served, by endpoint template, gateway "
                   "route (main, routed, split, cache, none) and status class.", requests)
            + histograms("gateway_request_duration_seconds", "Chat completion handler time, whole (a stream until "
                         "its last byte), by route.", _by("route", telemetry.request_seconds))
            + histograms("gateway_request_overhead_seconds", "Chat completion time the gateway itself added: "
                         "handler time minus the upstream calls' wall-clock time, by route.",
                         _by("route", telemetry.overhead_seconds))
            + histograms("gateway_upstream_request_duration_seconds", "One upstream call, from sending it until its "
                         "answer was read or its stream ended, by provider.", _by("provider", telemetry.upstream_seconds))
            + family("gateway_upstream_errors_total", "counter", "Upstream failures by provider and HTTP status class "
                     "(transport: timeout, reset or unreachable).", errors))


def _by(label: str, table: dict[str, Histogram]) -> list[tuple[dict[str, str], Histogram]]:
    return [({label: key}, table[key]) for key in sorted(table)]


def ledger_lines(ledger: Ledger, models: set[str]) -> list[str]:
    """Answered requests by route (the decisions taken), tokens, cost paid, baseline cost and savings."""
    by_model = _merge_models(ledger.by_model, models)
    return (family("gateway_requests_total", "counter", "Answered chat requests by route taken (main, routed, "
                   "split:N, cache).", [({"route": r}, t.requests) for r, t in sorted(ledger.by_route.items())])
            + family("gateway_failed_requests_total", "counter", "Requests that failed after the gateway "
                     "started answering (a stream cut, a split part lost).", ledger.failed_requests)
            + family("gateway_prompt_tokens_total", "counter", "Prompt tokens sent upstream, by model(s) that "
                     "answered.", [({"model": m}, t.prompt_tokens) for m, t in by_model])
            + family("gateway_completion_tokens_total", "counter", "Completion tokens received, by model(s) that "
                     "answered.", [({"model": m}, t.completion_tokens) for m, t in by_model])
            + family("gateway_cost_usd_total", "counter", "Cost paid upstream, USD.", ledger.total.cost_usd)
            + family("gateway_baseline_cost_usd_total", "counter", "What the requests would have cost as asked "
                     "(requested model, full context, no cache), USD.", ledger.total.baseline_cost_usd)
            + family("gateway_saved_usd_total", "counter", "Savings by mechanism (routing, context, exact_cache, "
                     "semantic_cache, splitting), USD.",
                     [({"mechanism": m}, v) for m, v in sorted(ledger.total.saved_by.items())])
            + family("gateway_model_cost_usd_total", "counter", "Cost paid, by model(s) that answered, USD.",
                     [({"model": m}, t.cost_usd) for m, t in by_model]))


def _merge_models(by_model: dict[str, Totals], models: set[str]) -> list[tuple[str, Totals]]:
    """Ledger keys are model names joined by commas (a split answer); any name outside the catalog is `other`."""
    merged: dict[str, Totals] = {}
    for key, totals in by_model.items():
        label = key if key and all(part in models for part in key.split(",")) else "other"
        target = merged.setdefault(label, Totals())
        target.requests += totals.requests
        target.prompt_tokens += totals.prompt_tokens
        target.completion_tokens += totals.completion_tokens
        target.cost_usd += totals.cost_usd
    return sorted(merged.items())


def split_lines(ledger: Ledger) -> list[str]:
    """Splitting's counters (workers, failures, recoveries, integration checks) and the workers running now."""
    counters = ledger.split.as_dict()
    lines: list[str] = []
    for name, value in counters.items():
        if name not in _GAUGES:
            lines += family(f"gateway_split_{name}_total", "counter", f"Splitting: {name.replace('_', ' ')}.", value)
    return lines + family("gateway_split_workers_in_flight", "gauge", "Split workers calling upstream right now.",
                          counters["workers_in_flight"])


def resilience_lines(ledger: Ledger, upstream: UpstreamClient) -> list[str]:
    """Failures the client never saw: upstream calls retried (by error code), requests sent to a fallback, and the
    circuit breakers (one per upstream model called; label values come from the catalog)."""
    breakers = sorted(upstream.breakers.by_upstream.items())
    return (family("gateway_upstream_retries_total", "counter", "Upstream calls retried after a failure that may "
                   "pass on a second try, by error code.", [({"code": c}, n) for c, n in sorted(upstream.retries.items())])
            + family("gateway_fallbacks_total", "counter", "Requests sent to a fallback model after their model "
                     "failed for good.", ledger.fallbacks)
            + family("gateway_upstream_circuit_open", "gauge", "1 while an upstream model's circuit breaker is open "
                     "or half-open (calls fail fast; fallbacks answer).",
                     [({"upstream": name}, int(b.state != "closed")) for name, b in breakers])
            + family("gateway_upstream_circuit_opened_total", "counter", "Times an upstream model's circuit breaker "
                     "opened.", [({"upstream": name}, b.opened) for name, b in breakers]))


def policy_lines(store: PolicyStore) -> list[str]:
    status = store.status()
    return (family("gateway_policy_reloads_total", "counter", "Policy files reloaded after a change.",
                   status["reloads"])
            + family("gateway_policy_reload_errors_total", "counter", "Policy reloads refused (the last good "
                     "version stayed in force).", status["reload_errors"])
            + family("gateway_policy_files_in_error", "gauge", "Policy files whose current version is invalid.",
                     len(status["errors"]))
            + family("gateway_policy_last_reload_timestamp_seconds", "gauge", "Unix time of the last policy "
                     "load or reload.", store.last_reload_at))


def cache_lines(cache: CacheService) -> list[str]:
    """Hits by kind and tier, misses, verifier rejections by reason, lookup latency, and the shared tier's state."""
    stats = cache.stats
    rejections = cache.semantic.rejections if cache.semantic is not None else {}
    lines = (family("gateway_cache_hits_total", "counter", "Cache hits by kind (exact, semantic) and tier.",
                    [({"kind": k, "tier": t}, n) for (k, t), n in sorted(stats.hits.items())])
             + family("gateway_cache_misses_total", "counter", "Cache lookups that found nothing.", stats.misses)
             + family("gateway_cache_stores_total", "counter", "Answers stored in the cache.", stats.stores)
             + family("gateway_cache_not_stored_total", "counter", "Answers not stored (incomplete or failed).",
                      stats.not_stored)
             + family("gateway_cache_embed_errors_total", "counter", "Embedder failures (the semantic tier was "
                      "skipped).", stats.embed_errors)
             + family("gateway_cache_verifier_rejections_total", "counter", "Semantic candidates the verifier "
                      "refused, by reason.", [({"reason": r}, n) for r, n in sorted(rejections.items())])
             + histograms("gateway_cache_lookup_seconds", "Cache lookup time (exact, then semantic).", [({}, stats.lookup_seconds)])
             + family("gateway_cache_memory_bytes", "gauge", "Bytes held by the in-memory cache tier.",
                      cache.memory.bytes)
             + family("gateway_cache_semantic_entries", "gauge", "Entries in the semantic index.",
                      len(cache.semantic) if cache.semantic is not None else 0)
             + family("gateway_redis_failures_total", "counter", "Redis operations that failed (absorbed).",
                      cache.redis.failures)
             + family("gateway_redis_reconnects_total", "counter", "Times the Redis link came back after a failure.",
                      cache.redis.reconnects))
    if cache.redis.configured:
        lines += family("gateway_redis_up", "gauge", "1 when the shared Redis tier answers.",
                        1 if cache.redis.state == "ok" else 0)
    return lines


def limit_lines(limits: LimitService) -> list[str]:
    """Requests refused by key limits, and whether limits are shared through Redis or per-replica right now."""
    status = limits.status()
    refused = [({"reason": reason}, count) for reason, count in sorted(status["refused"].items())]
    return (family("gateway_limit_refusals_total", "counter", "Requests refused by their key's limits, by reason "
                   "(model, requests, tokens, budget).", refused)
            + family("gateway_limits_degraded", "gauge", "1 while key limits fall back to per-replica counting "
                     "because Redis is unreachable.", int(status["state"] == "degraded"))
            + family("gateway_limits_local_admissions_total", "counter", "Requests admitted by this replica alone "
                     "while Redis was unreachable.", status["local_admissions"]))


def key_lines(keys: KeyStore) -> list[str]:
    """Client key reloads: how many keys are in force, and whether the config file's last version was refused."""
    status = keys.status()
    return (family("gateway_client_keys", "gauge", "Client keys in force.", status["keys"])
            + family("gateway_client_key_reloads_total", "counter", "Reloads of the client keys after the config "
                     "file changed.", status["reloads"])
            + family("gateway_client_key_reload_errors_total", "counter", "Config file versions refused (the last "
                     "good keys stayed in force).", status["reload_errors"])
            + family("gateway_client_keys_in_error", "gauge", "1 while the config file's current version is "
                     "invalid.", int(status["error"] is not None)))
