"""Quality of the answers actually served, from the recorded judge scores, against the baseline's.

A fresh answer from model M on an Arena item scores M's recorded judge score there. A cached answer is traced to
the request that first produced it (by its text): from the same item, it scores what that model scored; from a
labelled duplicate (QQP), it is right (1); from anything else it is a wrong answer (0). Kept share per request is
min(1, served / baseline), the router's own label; requests without a recorded score are counted as not measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.config.settings import Settings
from gateway.routing.data import LabelledSet
from gateway.sim.replay import model_key, undated_model_key
from gateway.workloads import BASELINE_MODEL, WorkRequest


@dataclass
class Scored:
    kept: float | None  # share of the baseline's quality kept, None when not measured
    served_score: float | None = None
    baseline_score: float | None = None
    routed: bool = False  # answered by another model than asked, or from the cache


class QualityJudge:
    """Looks scores up by (item row, served model) in the labelled sets the workload came from."""

    def __init__(self, sets: dict[str, LabelledSet], settings: Settings) -> None:
        self.sets = sets
        self.settings = settings
        self.first_answer: dict[str, tuple[str, str]] = {}  # answer text -> (item, model) that produced it

    def _score(self, request: WorkRequest, model: str) -> float | None:
        if request.quality is None or request.quality.dataset not in self.sets:
            return None
        labelled = self.sets[request.quality.dataset]
        spec = self.settings.find_model(model)
        names = {model_key(n) for n in (model, spec.upstream_model if spec else model)}
        undated = {undated_model_key(n) for n in (model, spec.upstream_model if spec else model)}
        for j, name in enumerate(labelled.models):
            if model_key(name) in names or undated_model_key(name) in undated:
                value = labelled.quality[request.quality.row, j]
                return None if value != value else float(value)  # NaN: no score recorded
        return None

    def score(self, request: WorkRequest, headers: dict[str, str], text: str) -> Scored:
        """Score one gateway answer; call in the order answers were produced."""
        model = headers.get("x-gateway-model", "")
        cache = headers.get("x-gateway-cache", "miss")
        scored = self._judge(request, model, cache, text)
        scored.routed = cache != "miss" or model != BASELINE_MODEL
        return scored

    def _judge(self, request: WorkRequest, model: str, cache: str, text: str) -> Scored:
        baseline = self._score(request, BASELINE_MODEL)
        if cache == "miss":
            self.first_answer.setdefault(text, (request.item, model))
            served = None if "," in model else self._score(request, model)
            return self._kept(served, baseline)
        source_item, source_model = self.first_answer.get(text, ("", model))
        if cache == "exact":  # the very same messages: the answer is as right as it was the first time
            source_item = request.item
        if source_item and source_item != request.item and source_item not in request.dup_of:
            return Scored(0.0, 0.0, baseline)  # another question's answer
        if request.quality is None:
            return Scored(1.0 if source_item else None)  # a true duplicate's answer (or untraceable: unmeasured)
        return self._kept(self._score(request, source_model), baseline)

    @staticmethod
    def _kept(served: float | None, baseline: float | None) -> Scored:
        if served is None or baseline is None:
            return Scored(None, served, baseline)
        return Scored(min(1.0, served / baseline) if baseline > 0 else 1.0, served, baseline)


def summarize(scored: list[Scored]) -> dict[str, Any]:
    measured = [s.kept for s in scored if s.kept is not None]
    served = [s.served_score for s in scored if s.served_score is not None and s.baseline_score is not None]
    base = [s.baseline_score for s in scored if s.served_score is not None and s.baseline_score is not None]
    unmeasured_routed = sum(s.kept is None and s.routed for s in scored)
    return {"quality_kept_pct": round(100 * sum(measured) / len(measured), 2) if measured else None,
            "unmeasured_routed_requests": unmeasured_routed,
            "measured_not_as_asked": sum(s.kept is not None and s.routed for s in scored),
            "measured_requests": len(measured), "coverage_pct": round(100 * len(measured) / max(1, len(scored)), 1),
            "mean_served_score": round(sum(served) / len(served), 3) if served else None,
            "mean_baseline_score": round(sum(base) / len(base), 3) if base else None}
