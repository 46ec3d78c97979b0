"""`GET /metrics`: Prometheus text exposition of costs, savings and policy health (no client library needed)."""

from __future__ import annotations

from aiohttp import web

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
    return web.Response(body=("\n".join(lines) + "\n").encode(),
                        headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})
