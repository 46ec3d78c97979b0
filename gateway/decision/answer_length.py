"""How long an answer will be, before it exists: the output side of every cost estimate.

Output tokens cost 4-5x input tokens, so a decision priced on the prompt alone would be wrong. Priors per task type
(a base length, plus a share of the input for tasks that transform a given text) ship in `answer_lengths.json`,
fitted on recorded answers by `bench/fit_answer_lengths.py`; each real answer then nudges its task type's estimate
(an exponential moving average), so the estimates follow the traffic the gateway actually serves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

_DEFAULT_BASE = 350.0


@dataclass
class LengthPrior:
    base: float
    per_input: float = 0.0


class AnswerLengths:
    def __init__(self, priors: dict[str, LengthPrior], learning_rate: float = 0.02):
        self._priors = priors
        self._learning_rate = learning_rate

    @classmethod
    def load_default(cls) -> "AnswerLengths":
        data = json.loads(resources.files("gateway.decision").joinpath("answer_lengths.json").read_text())
        return cls({task: LengthPrior(float(v["base"]), float(v.get("per_input", 0.0)))
                    for task, v in data["task_types"].items()})

    def expected(self, task_type: str, input_tokens: int, max_tokens: int | None = None) -> int:
        prior = self._priors.get(task_type) or LengthPrior(_DEFAULT_BASE)
        tokens = int(prior.base + prior.per_input * input_tokens)
        return max(1, min(tokens, max_tokens) if max_tokens else tokens)

    def observe(self, task_type: str, input_tokens: int, completion_tokens: int) -> None:
        """Move the task type's base toward what was really produced (its input share stays as fitted)."""
        prior = self._priors.setdefault(task_type, LengthPrior(_DEFAULT_BASE))
        observed_base = completion_tokens - prior.per_input * input_tokens
        prior.base += self._learning_rate * (max(1.0, observed_base) - prior.base)
