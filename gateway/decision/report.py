"""A decision as operators read it: the JSON of `/v1/gateway/evaluate` and the text of `gateway policy explain`."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from gateway.decision.engine import Decision, Option


def decision_report(decision: Decision) -> dict[str, Any]:
    choice = decision.choice
    analysis = decision.analysis
    worker_config = None
    if choice.kind != "main":
        worker_config = {"model": choice.model.name, "workers": choice.workers or 1,
                         "context": "minimized" if choice.context else "full",
                         "removed_messages": choice.context.removed_messages if choice.context else 0}
    return {
        "decision": decision.name,
        "model": choice.model.name,
        "worker_config": worker_config,
        "estimated_cost_usd": round(choice.cost_usd, 10),
        "baseline_cost_usd": round(decision.baseline.cost_usd, 10),
        "confidence": round(analysis.confidence, 3),
        "policy": decision.match.policy.name,
        "rule": decision.match.rule_name,
        "reasons": list(decision.reasons),
        "analysis": {"task_type": analysis.task_type, "complexity": analysis.complexity,
                     "context_dependency": round(analysis.context_dependency, 3),
                     "tokens": {**asdict(analysis.tokens), "total": analysis.tokens.total},
                     "subtasks": [subtask.text for subtask in analysis.subtasks],
                     "signals": list(analysis.signals)},
        "options": [_option(option) for option in decision.options],
    }


def _option(option: Option) -> dict[str, Any]:
    return {"kind": option.kind, "model": option.model.name, "prompt_tokens": option.prompt_tokens,
            "cached_tokens": option.cached_tokens, "output_tokens": option.output_tokens, "estimated_cost_usd": round(option.cost_usd, 10),
            "allowed": option.allowed, "note": option.note, "workers": option.workers}


def explain_text(report: dict[str, Any]) -> str:
    analysis = report["analysis"]
    tokens = analysis["tokens"]
    lines = [
        "Analysis",
        f"  task type {analysis['task_type']}, complexity {analysis['complexity']}/5, context dependency "
        f"{analysis['context_dependency']:.2f}, confidence {report['confidence']:.2f}",
        f"  tokens: system {tokens['system']}, history {tokens['history']}, last turn {tokens['last_user']}, "
        f"tools {tokens['tools']} (total {tokens['total']})",
        *(f"  - {signal}" for signal in analysis["signals"]),
        *(f"  subtask {i + 1}: {text}" for i, text in enumerate(analysis["subtasks"])),
        "",
        f"Policy {report['policy']}, rule {report['rule']}",
        "",
        "Options (estimated cost)",
    ]
    for option in report["options"]:
        mark = "ok " if option["allowed"] else "no "
        lines.append(f"  {mark} {option['kind']:<17} {option['model']:<22} ${option['estimated_cost_usd']:.6f}"
                     f"  ({option['prompt_tokens']} in{_cached(option)}, ~{option['output_tokens']} out)  {option['note']}")
    lines += ["", f"Choice: {report['decision']} on {report['model']}, est. ${report['estimated_cost_usd']:.6f} "
                  f"vs ${report['baseline_cost_usd']:.6f} as asked", *(f"  - {r}" for r in report["reasons"])]
    return "\n".join(lines)


def _cached(option: dict[str, Any]) -> str:
    return f" of which {option['cached_tokens']} cached" if option.get("cached_tokens") else ""
