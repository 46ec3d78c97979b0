"""Cost and quality of routing strategies on a labelled set: the router's curve and its baselines.

Each strategy picks one model per prompt; its point is (mean cost, mean quality) over the prompts. A *saving at
95%* is 1 - cost / always-premium cost at the cheapest point of a curve whose quality reaches 95% of always-premium
quality, interpolating linearly between adjacent points (serving a share of requests at each of two settings gives
exactly the points between them).

- router: the quality router at a sweep of quality_risk values, through `cheapest_adequate`, the rule `choose` uses;
- random: prompts sent to fixed models at random in the best proportions, i.e. the upper concave hull of the
  models' (mean cost, mean quality) points: the strongest routing that does not read the prompt;
- random, same mix: the router's own model shares at each point, assigned to prompts at random;
- oracle: knowing every model's recorded quality and cost on every prompt, the cheapest assignment whose mean
  quality reaches the target (the exact frontier: per prompt argmin cost - lambda * quality over all lambda);
  `oracle_match` is its simplest point: per prompt the cheapest model whose quality reaches the premium's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gateway.accounting.tokens import counter_for_model
from gateway.routing.data import LabelledSet
from gateway.routing.prices import Price
from gateway.routing.quality import cheapest_adequate, reference_cost

EXPECTED_ANSWER_TOKENS = 256      # the router's own price estimate: it cannot know how long the answer will be
RISKS = np.concatenate([np.linspace(0.0, 0.3, 301), np.linspace(0.3, 1.0, 71)[1:]])
TARGETS = (0.95, 0.90)


@dataclass
class Problem:
    """A set ready to evaluate: priced candidate models, their quality, actual and estimated cost per prompt."""

    labelled: LabelledSet
    models: list[str]
    tiers: list[str]
    premium: int
    quality: np.ndarray      # (prompts, models), NaN where a model has no label on a prompt
    cost: np.ndarray         # actual USD per prompt and model
    estimate: np.ndarray     # the router's estimate (EXPECTED_ANSWER_TOKENS of answer)
    reference: float         # a reference request's cost on the premium: the unit quality_risk is spent in


    def rows(self, index: np.ndarray) -> "Problem":
        return Problem(self.labelled.subset(index), self.models, self.tiers, self.premium, self.quality[index],
                       self.cost[index], self.estimate[index], self.reference)


@dataclass
class Curve:
    cost: np.ndarray
    quality: np.ndarray
    knob: np.ndarray | None = None
    shares: list[dict[str, float]] = field(default_factory=list)


def prepare(labelled: LabelledSet, prices: dict[str, Price], default_answer_tokens: int) -> Problem:
    """Keep prompts the premium has a label on and models that are priced (and, where the file records answers,
    that have recorded answers: their cost would otherwise be a guess)."""
    if labelled.premium not in prices:
        raise ValueError(f"{labelled.name}: the premium {labelled.premium} has no price")
    recorded = {m for m, answers in labelled.answers.items() if np.mean([bool(a) for a in answers]) >= 0.9}
    models = [m for m in labelled.models if m in prices and (not labelled.answers or m in recorded
                                                             or m == labelled.premium)]
    rows = ~np.isnan(labelled.column(labelled.premium))
    subset = labelled.subset(rows)
    quality = subset.quality[:, [labelled.models.index(m) for m in models]]
    cost, estimate = _costs(subset, models, prices, default_answer_tokens)
    premium = prices[labelled.premium]
    return Problem(subset, models, [tier_by_price(prices[m]) for m in models], models.index(labelled.premium),
                   quality, cost, estimate, reference_cost(premium.input_per_million, premium.output_per_million))


def tier_by_price(price: Price) -> str:
    """A catalog tier for a data-set model, used only when the router has no ability learned for it."""
    return "economy" if price.output_per_million < 1.0 else "standard" if price.output_per_million < 10 else "premium"


def router_curve(problem: Problem, adequacy: np.ndarray, risks: np.ndarray = RISKS) -> Curve:
    """The router at each quality_risk; a model without a label on a prompt is not offered for that prompt."""
    offered = np.where(np.isnan(problem.quality), np.inf, problem.estimate)
    adequacy = adequacy.copy()
    adequacy[:, problem.premium] = 1.0
    rows = np.arange(len(offered))
    curve = Curve(np.zeros(len(risks)), np.zeros(len(risks)), np.asarray(risks))
    for i, risk in enumerate(risks):
        pick = cheapest_adequate(adequacy, offered, problem.premium, float(risk), problem.reference)
        curve.cost[i] = problem.cost[rows, pick].mean()
        curve.quality[i] = problem.quality[rows, pick].mean()
        shares = np.bincount(pick, minlength=len(problem.models)) / len(pick)
        curve.shares.append({m: float(s) for m, s in zip(problem.models, shares) if s > 0})
    return curve


def model_means(problem: Problem) -> tuple[np.ndarray, np.ndarray]:
    """Mean cost and quality of always using each model (over the prompts it has a label on)."""
    labelled = ~np.isnan(problem.quality)
    cost = np.array([problem.cost[labelled[:, j], j].mean() for j in range(len(problem.models))])
    return cost, np.nanmean(problem.quality, axis=0)


def random_curve(problem: Problem) -> Curve:
    return Curve(*_upper_hull(*model_means(problem)))


def same_mix_curve(problem: Problem, router: Curve) -> Curve:
    """Expected point of assigning the router's model shares to prompts at random."""
    cost, quality = model_means(problem)
    index = {m: j for j, m in enumerate(problem.models)}
    mixes = [np.array([shares.get(m, 0.0) for m in index]) for shares in router.shares]
    return Curve(np.array([mix @ cost for mix in mixes]), np.array([mix @ quality for mix in mixes]))


def oracle_curve(problem: Problem, points: int = 400) -> Curve:
    cost, quality = problem.cost, problem.quality
    known = ~np.isnan(quality)
    spread = float(np.nanmax(quality) - np.nanmin(quality)) or 1.0
    rows = np.arange(len(cost))
    lambdas = np.concatenate([[0.0], np.geomspace(1e-4, 1e4, points) * float(np.median(cost)) / spread])
    costs, qualities = [], []
    for lam in lambdas:
        pick = np.argmin(np.where(known, cost - lam * np.nan_to_num(quality), np.inf), axis=1)
        costs.append(cost[rows, pick].mean())
        qualities.append(quality[rows, pick].mean())
    return Curve(*_upper_hull(np.array(costs), np.array(qualities)))


def oracle_match(problem: Problem) -> tuple[float, float]:
    """(mean cost, mean quality) of the cheapest model per prompt whose quality reaches the premium's."""
    good = problem.quality >= problem.quality[:, [problem.premium]]
    pick = np.argmin(np.where(good, problem.cost, np.inf), axis=1)
    rows = np.arange(len(pick))
    return float(problem.cost[rows, pick].mean()), float(problem.quality[rows, pick].mean())


def cost_for_quality(curve: Curve, target: float) -> float | None:
    """The least cost at which the curve (linear between its Pareto points) reaches `target`; None if never."""
    cost, quality = _pareto(curve.cost, curve.quality)
    if not len(cost) or quality[-1] < target - 1e-12:
        return None
    k = int(np.argmax(quality >= target - 1e-12))
    if k == 0:
        return float(cost[0])
    fraction = (target - quality[k - 1]) / (quality[k] - quality[k - 1])
    return float(cost[k - 1] + fraction * (cost[k] - cost[k - 1]))


def saving_at(curve: Curve, problem: Problem, fraction: float) -> float | None:
    """Percent saved against always-premium at `fraction` of its quality (None: the curve never gets there)."""
    premium_cost = problem.cost[:, problem.premium].mean()
    cost = cost_for_quality(curve, fraction * problem.quality[:, problem.premium].mean())
    return None if cost is None else 100.0 * (1.0 - cost / premium_cost)


def risk_at(curve: Curve, problem: Problem, fraction: float) -> float | None:
    """The largest quality_risk before the router first falls below `fraction` of premium quality: how the knob
    maps to quality on this set (None when it never falls below)."""
    below = curve.quality < fraction * problem.quality[:, problem.premium].mean() - 1e-12
    if curve.knob is None or not below.any():
        return None
    first = int(np.argmax(below))
    return float(curve.knob[first - 1]) if first else 0.0


def summarize(problem: Problem, router: Curve) -> dict:
    """The headline figures of one set (percentages; costs in USD per 1,000 prompts)."""
    premium_quality = float(problem.quality[:, problem.premium].mean())
    premium_cost = float(problem.cost[:, problem.premium].mean())
    means_cost, means_quality = model_means(problem)
    cheapest = int(np.argmin(means_cost))
    match_cost, match_quality = oracle_match(problem)
    random, mix, oracle = random_curve(problem), same_mix_curve(problem, router), oracle_curve(problem)

    def pct(value: float | None) -> float | None:
        return None if value is None else round(value, 1)

    return {
        "prompts": len(problem.labelled.prompts), "premium": problem.models[problem.premium],
        "candidates": [m for j, m in enumerate(problem.models) if j != problem.premium],
        "premium_quality": round(premium_quality, 4), "premium_cost_per_1k_usd": round(1000 * premium_cost, 4),
        "saving_at_95_pct": pct(saving_at(router, problem, 0.95)),
        "saving_at_90_pct": pct(saving_at(router, problem, 0.90)),
        "random_saving_at_95_pct": pct(saving_at(random, problem, 0.95)),
        "random_saving_at_90_pct": pct(saving_at(random, problem, 0.90)),
        "random_same_mix_saving_at_95_pct": pct(saving_at(mix, problem, 0.95)),
        "oracle_saving_at_95_pct": pct(saving_at(oracle, problem, 0.95)),
        "oracle_match_saving_pct": pct(100 * (1 - match_cost / premium_cost)),
        "oracle_match_quality_pct": pct(100 * match_quality / premium_quality),
        "cheapest_model": problem.models[cheapest],
        "cheapest_saving_pct": pct(100 * (1 - means_cost[cheapest] / premium_cost)),
        "cheapest_quality_pct": pct(100 * means_quality[cheapest] / premium_quality),
        "quality_risk_at_95_pct": None if (risk := risk_at(router, problem, 0.95)) is None else round(risk, 3),
    }


def bootstrap(problem: Problem, adequacy: np.ndarray, samples: int, seed: int = 0) -> dict:
    """90% intervals, over prompts resampled with replacement, of the router's saving at 95% of premium quality
    and of its margin over random routing: is a difference larger than the luck of the draw?"""
    rng = np.random.default_rng(seed)
    savings, margins = [], []
    for _ in range(samples):
        index = rng.integers(0, len(adequacy), len(adequacy))
        sample = problem.rows(index)
        router = saving_at(router_curve(sample, adequacy[index]), sample, 0.95)
        random = saving_at(random_curve(sample), sample, 0.95)
        if router is not None and random is not None:
            savings.append(router)
            margins.append(router - random)
    saving_interval, margin_interval = np.percentile(savings, [5, 95]), np.percentile(margins, [5, 95])
    return {"saving_at_95_pct_90ci": [round(float(v), 1) for v in saving_interval],
            "margin_over_random_at_95_pct_90ci": [round(float(v), 1) for v in margin_interval]}


def _costs(labelled: LabelledSet, models: list[str], prices: dict[str, Price],
           default_answer_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """Actual cost: the recorded answer's tokens, else the model's mean recorded length, else the set default."""
    n = len(labelled.prompts)
    cost, estimate = np.zeros((n, len(models))), np.zeros((n, len(models)))
    for j, model in enumerate(models):
        counter = counter_for_model(model)
        prompt_tokens = np.array([counter.count(p) for p in labelled.prompts], dtype=float)
        recorded = labelled.answers.get(model) or [None] * n
        lengths = np.array([counter.count(a) if a else np.nan for a in recorded], dtype=float)
        fallback = float(np.nanmean(lengths)) if np.isfinite(lengths).any() else float(default_answer_tokens)
        price = prices[model]
        cost[:, j] = price.cost(prompt_tokens, np.where(np.isnan(lengths), fallback, lengths))
        estimate[:, j] = price.cost(prompt_tokens, EXPECTED_ANSWER_TOKENS)
    return cost, estimate


def _pareto(cost: np.ndarray, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Points no other point beats on both cost and quality, by ascending cost."""
    order = np.lexsort((-quality, cost))
    kept_cost: list[float] = []
    kept_quality: list[float] = []
    for c, q in zip(cost[order], quality[order]):
        if not kept_quality or q > kept_quality[-1] + 1e-12:
            kept_cost.append(float(c))
            kept_quality.append(float(q))
    return np.array(kept_cost), np.array(kept_quality)


def _upper_hull(cost: np.ndarray, quality: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pareto points on the upper concave hull: everything mixing strategies at random can reach."""
    hull: list[tuple[float, float]] = []
    for x, y in zip(*_pareto(cost, quality)):
        while len(hull) >= 2 and (hull[-1][1] - hull[-2][1]) * (x - hull[-2][0]) <= \
                (y - hull[-2][1]) * (hull[-1][0] - hull[-2][0]):
            hull.pop()
        hull.append((x, y))
    return np.array([h[0] for h in hull]), np.array([h[1] for h in hull])
