"""The cost report: baseline against gateway, saving by mechanism, quality kept, latency, throughput.

Saving by mechanism comes from the gateway's ledger (routing, context, exact_cache, semantic_cache, splitting),
which prices each answer as asked with the answer length actually served. The measured baseline uses the premium's
own answers, so the two baselines differ by the answer lengths; that difference is shown as `answer_length` so the
mechanisms add up exactly to the measured saving.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from gateway.accounting.cost import cost_usd, usage_from_openai, Usage
from gateway.config.settings import Settings
from gateway.costbench.quality import QualityJudge, Scored, summarize
from gateway.costbench.run import PassResult
from gateway.workloads import BASELINE_MODEL, Workload

MECHANISMS = ("exact_cache", "semantic_cache", "routing", "context", "splitting")


def _direct_cost(settings: Settings, usage: dict[str, Any]) -> float:
    spec = settings.find_model(BASELINE_MODEL)
    return cost_usd(spec, usage_from_openai(usage) or Usage()) if spec else 0.0


def build_report(workload: Workload, baseline: PassResult, gateway: PassResult, settings: Settings,
                 judge: QualityJudge | None) -> dict[str, Any]:
    base_costs = [_direct_cost(settings, s.usage) for s in baseline.served]
    paid = [float(s.headers.get("x-gateway-cost-usd", 0) or 0) for s in gateway.served]
    total = gateway.ledger["total"]
    baseline_cost, cost = sum(base_costs), float(total["cost_usd"])
    by_mechanism = {m: float(total["saved_by"].get(m, 0.0)) for m in MECHANISMS}
    by_mechanism["answer_length"] = baseline_cost - float(total["baseline_cost_usd"])
    scored = _score(workload, gateway, judge)
    report: dict[str, Any] = {
        "workload": workload.name, "description": workload.description, "synthetic": workload.synthetic,
        "policy": workload.policy, "requested_model": BASELINE_MODEL, "requests": len(workload.requests),
        "failed": sum(s.status != 200 for s in gateway.served) + sum(s.status != 200 for s in baseline.served),
        "baseline_cost_usd": round(baseline_cost, 6), "cost_usd": round(cost, 6),
        "saved_usd": round(baseline_cost - cost, 6),
        "saved_pct": round(100 * (baseline_cost - cost) / baseline_cost, 2) if baseline_cost else 0.0,
        "saved_by_mechanism": {m: round(v, 6) for m, v in by_mechanism.items()},
        "saved_by_mechanism_pct": {m: round(100 * v / baseline_cost, 2) if baseline_cost else 0.0
                                   for m, v in by_mechanism.items()},
        "gateway_ledger_baseline_usd": round(float(total["baseline_cost_usd"]), 6),
        **_quality(scored, judge), **_latency(baseline, gateway), "notes": workload.notes,
        "routes": _routes(gateway), "by_role": _by_role(workload, base_costs, paid, scored),
        "series": {"baseline_cost_usd": base_costs, "cost_usd": paid}}
    return report


def _score(workload: Workload, gateway: PassResult, judge: QualityJudge | None) -> list[Scored]:
    if judge is None or workload.synthetic:
        return [Scored(None) for _ in gateway.served]
    return [judge.score(r, s.headers, s.text) for r, s in zip(workload.requests, gateway.served)]


def _quality(scored: list[Scored], judge: QualityJudge | None) -> dict[str, Any]:
    summary = summarize(scored)
    if judge is None or summary["quality_kept_pct"] is None or summary["coverage_pct"] < 5:
        return {"quality_kept_pct": None, "quality": {"measured": False, "why": "no recorded scores for (almost all) "
                                                      "these answers: synthetic workload or unlabelled prompts"}}
    return {"quality_kept_pct": summary["quality_kept_pct"], "quality": {"measured": True, **summary}}


def _latency(baseline: PassResult, gateway: PassResult) -> dict[str, Any]:
    base = [s.seconds for s in baseline.served]
    via = [s.seconds for s in gateway.served]
    added = [g - b for g, b in zip(via, base)]
    return {"latency_ms": {"baseline_p50": _ms(statistics.median(base)), "gateway_p50": _ms(statistics.median(via)),
                           "added_p50": _ms(statistics.median(added)),
                           "gateway_p95": _ms(sorted(via)[int(0.95 * (len(via) - 1))])},
            "added_latency_ms_p50": _ms(statistics.median(added)),
            "seconds": round(gateway.seconds, 2),
            "requests_per_second": round(len(via) / gateway.seconds, 2) if gateway.seconds else 0.0}


def _ms(seconds: float) -> float:
    return round(1000 * seconds, 1)


def _routes(gateway: PassResult) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for s in gateway.served:
        cache = s.headers.get("x-gateway-cache", "?")
        key = f"cache:{cache}" if cache != "miss" else f"{s.headers.get('x-gateway-route', '?')}:" \
                                                       f"{s.headers.get('x-gateway-model', '?')}"
        counts[key] += 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _by_role(workload: Workload, base_costs: list[float], paid: list[float], scored: list[Scored]) -> dict:
    groups: dict[str, list[int]] = defaultdict(list)
    for i, request in enumerate(workload.requests):
        groups[request.role].append(i)
    out = {}
    for role, idx in groups.items():
        base = sum(base_costs[i] for i in idx)
        out[role] = {"requests": len(idx), "baseline_cost_usd": round(base, 6),
                     "cost_usd": round(sum(paid[i] for i in idx), 6),
                     "quality_kept_pct": summarize([scored[i] for i in idx])["quality_kept_pct"]}
    return out


def text_report(report: dict[str, Any]) -> str:
    """The human-readable report the demo prints."""
    q = report["quality_kept_pct"]
    lat = report["latency_ms"]
    lines = [f"workload:  {report['workload']} ({report['description']}), {report['requests']} requests, "
             f"policy {report['policy']}, asked for {report['requested_model']}",
             f"baseline:  ${report['baseline_cost_usd']:.4f} "
             "(premium model as asked, full context, no cache; measured)",
             f"gateway:   ${report['cost_usd']:.4f}",
             f"saved:     {report['saved_pct']:.1f}%  (${report['saved_usd']:.4f})",
             "by mechanism: " + ", ".join(f"{m} {p:.1f}%" for m, p in report["saved_by_mechanism_pct"].items()),
             "quality kept: " + (f"{q:.1f}% of the baseline's (recorded judge scores, "
                                 f"{report['quality']['coverage_pct']}% of requests measured, of which "
                                 f"{report['quality']['measured_not_as_asked']} routed or cached; "
                                 f"{report['quality']['unmeasured_routed_requests']} routed or cached answers have "
                                 f"no recorded score)" if q is not None
                                 else "NOT MEASURED (" + report["quality"]["why"] + ")"),
             f"latency:   p50 {lat['gateway_p50']} ms via the gateway vs {lat['baseline_p50']} ms direct "
             f"(added p50 {lat['added_p50']} ms per request); {report['requests_per_second']} requests/s",
             "routes:    " + ", ".join(f"{k} {v}" for k, v in list(report["routes"].items())[:6])]
    for role, figures in report["by_role"].items():
        if role != "none":
            kept = figures["quality_kept_pct"]
            lines.append(f"  {role:<9} ${figures['baseline_cost_usd']:.4f} -> ${figures['cost_usd']:.4f}  quality "
                         f"{'n/a' if kept is None else f'{kept:.1f}%'}")
    if report["failed"]:
        lines.append(f"FAILED requests: {report['failed']}")
    return "\n".join(lines)
