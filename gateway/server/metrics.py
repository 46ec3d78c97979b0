"""`GET /metrics`: Prometheus text exposition of costs, savings and policy health (no client library needed)."""

from __future__ import annotations

from aiohttp import web

from gateway.cache.service import LATENCY_BUCKETS_MS, CacheService
from gateway.server.state import STATE


def _line(name: str, value: float, labels: dict[str, str] | None = None) -> str:
    if labels:
        rendered = ",".join(f'{key}="{str(val).replace(chr(34), "")}"' for key, val in labels.items())
        return f"{name}{{{rendered}}} {value:.10g}"
    return f"{name} {value:.10g}"


async def render(request: web.Request) -> web.Response:
    state = request.app[STATE]
    ledger = state.ledger
    policies = state.decider.policies.status()
    lines = ["# TYPE gateway_requests_total counter"]
    lines += [_line("gateway_requests_total", t.requests, {"route": route}) for route, t in ledger.by_route.items()]
    lines += ["# TYPE gateway_failed_requests_total counter",
              _line("gateway_failed_requests_total", ledger.failed_requests),
              "# TYPE gateway_cost_usd_total counter", _line("gateway_cost_usd_total", ledger.total.cost_usd),
              "# TYPE gateway_baseline_cost_usd_total counter",
              _line("gateway_baseline_cost_usd_total", ledger.total.baseline_cost_usd),
              "# TYPE gateway_saved_usd_total counter"]
    lines += [_line("gateway_saved_usd_total", amount, {"mechanism": mechanism})
              for mechanism, amount in ledger.total.saved_by.items()]
    lines += ["# TYPE gateway_model_cost_usd_total counter"]
    lines += [_line("gateway_model_cost_usd_total", t.cost_usd, {"model": model})
              for model, t in ledger.by_model.items()]
    for name, value in ledger.split.as_dict().items():
        lines += [f"# TYPE gateway_split_{name}_total counter", _line(f"gateway_split_{name}_total", value)]
    lines += ["# TYPE gateway_policy_reloads_total counter", _line("gateway_policy_reloads_total", policies["reloads"]),
              "# TYPE gateway_policy_reload_errors_total counter",
              _line("gateway_policy_reload_errors_total", policies["reload_errors"]),
              "# TYPE gateway_policy_files_in_error gauge",
              _line("gateway_policy_files_in_error", len(policies["errors"]))]
    lines += ["# TYPE gateway_fallbacks_total counter", _line("gateway_fallbacks_total", ledger.fallbacks),
              "# TYPE gateway_upstream_retries_total counter"]
    lines += [_line("gateway_upstream_retries_total", count, {"code": code})
              for code, count in sorted(state.upstream.retries.items())]
    lines += cache_lines(state.cache)
    return web.Response(body=("\n".join(lines) + "\n").encode(),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def cache_lines(cache: CacheService) -> list[str]:
    """Hits by kind and tier, misses, verifier rejections by reason, lookup latency, and the shared tier's state."""
    stats = cache.stats
    lines = ["# TYPE gateway_cache_hits_total counter"]
    lines += [_line("gateway_cache_hits_total", count, {"kind": kind, "tier": tier})
              for (kind, tier), count in sorted(stats.hits.items())]
    lines += ["# TYPE gateway_cache_misses_total counter", _line("gateway_cache_misses_total", stats.misses),
              "# TYPE gateway_cache_stores_total counter", _line("gateway_cache_stores_total", stats.stores),
              "# TYPE gateway_cache_not_stored_total counter", _line("gateway_cache_not_stored_total", stats.not_stored),
              "# TYPE gateway_cache_embed_errors_total counter",
              _line("gateway_cache_embed_errors_total", stats.embed_errors),
              "# TYPE gateway_cache_verifier_rejections_total counter"]
    rejections = cache.semantic.rejections if cache.semantic is not None else {}
    lines += [_line("gateway_cache_verifier_rejections_total", count, {"reason": reason})
              for reason, count in sorted(rejections.items())]
    lines += ["# TYPE gateway_cache_lookup_seconds histogram"]
    cumulative = 0
    for bound, count in zip(LATENCY_BUCKETS_MS, stats.lookup_ms_buckets):
        cumulative += count
        lines.append(_line("gateway_cache_lookup_seconds_bucket", cumulative, {"le": f"{bound / 1000:g}"}))
    lines += [_line("gateway_cache_lookup_seconds_bucket", stats.lookups, {"le": "+Inf"}),
              _line("gateway_cache_lookup_seconds_sum", stats.lookup_ms_sum / 1000),
              _line("gateway_cache_lookup_seconds_count", stats.lookups),
              "# TYPE gateway_cache_memory_bytes gauge", _line("gateway_cache_memory_bytes", cache.memory.bytes),
              "# TYPE gateway_cache_semantic_entries gauge",
              _line("gateway_cache_semantic_entries", len(cache.semantic) if cache.semantic is not None else 0),
              "# TYPE gateway_redis_failures_total counter", _line("gateway_redis_failures_total", cache.redis.failures)]
    if cache.redis.configured:
        lines += ["# TYPE gateway_redis_up gauge", _line("gateway_redis_up", 1 if cache.redis.state == "ok" else 0)]
    return lines
