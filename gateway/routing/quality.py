"""The quality router: how much of the premium model's quality a cheaper model keeps on a prompt, and the pick.

Model (fitted by `gateway.routing.train`; numpy and the standard library only):

    D(x)             = a linear score of the prompt's words and text statistics (the word router,
                       `router_params.json`), plus one of its MiniLM embedding (the embedding router,
                       `router_params_embedding.json`, used when the local model loads): its need for a strong model
    A(m | reference) = sigmoid(ability[m] - D(x))   expected share of the reference premium's quality m keeps
    A(m | p)         = 1 - max(0, A(p | reference) - A(m | reference))   for any other requested model p

The abilities read as thresholds on one latent difficulty (an IRT model): m falls short of p when a prompt is hard
enough for m but not for p. The reference premium is GPT-4-1106, the strongest model of the training data.

The one knob, quality_risk in [0, 1], prices quality in money: a request may give up an expected share of quality
of up to odds(quality_risk) = quality_risk / (1 - quality_risk) for each *reference request's* worth of money its
route saves (the reference: 1,000 prompt and 256 answer tokens on the requested model), at most four times that.
A request that saves little risks little; a long one that saves a lot may risk more: the same total saving costs
less quality than a flat per-request threshold (a knapsack: spend the risk where it buys the most). `choose` takes
the cheapest candidate within its allowance, else the premium. Raising the risk only widens every allowance, so
the pick never gets pricier (monotone); 0 keeps the premium, 1 takes the cheapest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from typing import Callable, NamedTuple, Sequence

import numpy as np
import orjson

from gateway.routing.features import (STAT_LABELS, STAT_NAMES, PromptFeatures, extract, quadratic_form, standardize,
                                      word_scale)
from gateway.routing.names import lookup_keys

PARAMS_FILE = "router_params.json"                      # the word router: needs nothing but the package
EMBEDDING_PARAMS_FILE = "router_params_embedding.json"  # the embedding router: needs the MiniLM model folder
VARIANT_FILES = {"words": PARAMS_FILE, "embedding": EMBEDDING_PARAMS_FILE}
# The variant `load_default` prefers when it can run (see docs/routing.md for the held-out comparison).
DEFAULT_VARIANT = "embedding"
# texts -> (len(texts), dim) unit rows; the embedding router calls it once per prompt it scores.
Embed = Callable[[Sequence[str]], np.ndarray]


class Candidate(NamedTuple):
    name: str
    tier: str       # economy | standard | premium: the catalog's tier, used when the router has no data on a model
    price: float    # the estimated cost of this request on the model (any unit, the same for every candidate)


@dataclass(frozen=True)
class Choice:
    model: str
    tier: str
    price: float
    adequacy: float         # expected share of the premium's quality kept (1.0 for the premium itself)
    difficulty: float       # 0..1, see QualityRouter.difficulty
    routed: bool            # True when the choice is not the premium
    reasons: tuple[str, ...]


REFERENCE_PROMPT_TOKENS, REFERENCE_ANSWER_TOKENS = 1_000, 256
MAX_SAVING_SCALE = 4.0  # however much a route saves, it never risks more than four reference requests' allowance:
# long-context requests are where small models fail in ways a score of the last turn cannot see


def reference_cost(input_per_million: float, output_per_million: float) -> float:
    """The money a reference request costs on the requested model: the unit in which `quality_risk` is spent."""
    return (REFERENCE_PROMPT_TOKENS * input_per_million + REFERENCE_ANSWER_TOKENS * output_per_million) / 1e6


def allowed_loss(saving: np.ndarray, reference: float | np.ndarray | None, quality_risk: float) -> np.ndarray:
    """The expected share of quality a route may give up for `saving` (the premium's estimated cost minus the
    candidate's, in the unit of `reference`; without a reference, every route saves one reference's worth)."""
    if quality_risk >= 1.0:
        return np.full(np.shape(saving), np.inf)
    odds = max(quality_risk, 0.0) / (1.0 - quality_risk)
    if reference is None:
        return np.where(saving > 0, odds, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(np.isfinite(saving), np.maximum(saving, 0.0) / reference, 1.0)
    return odds * np.minimum(scale, MAX_SAVING_SCALE)


def within_allowance(adequacy: np.ndarray | float, allowance: np.ndarray | float) -> np.ndarray | bool:
    """Whether the expected loss (1 - adequacy) fits the allowance its saving buys: the test every route passes,
    in `cheapest_adequate` and in the decision engine's judgement of each option."""
    return 1.0 - adequacy <= allowance + 1e-12


def cheapest_adequate(adequacy: np.ndarray, price: np.ndarray, premium: int, quality_risk: float,
                      reference: float | np.ndarray | None = None) -> np.ndarray:
    """Per row, the cheapest column within its allowance (`allowed_loss`, `within_allowance`; the premium column
    always qualifies; equal prices go to the more adequate model). The one decision rule: `choose` and the
    evaluation call it; the decision engine applies the same test option by option."""
    rows = adequacy.shape[0]
    if quality_risk <= 0.0:
        return np.full(rows, premium)
    with np.errstate(invalid="ignore"):
        saving = price[:, [premium]] - price
    ok = within_allowance(adequacy, allowed_loss(saving, reference, quality_risk))
    ok[:, premium] = True
    masked = np.where(ok, price, np.inf)
    best = masked.min(axis=1, keepdims=True)
    tie_break = np.where(masked == best, adequacy, -np.inf)
    tie_break[:, premium] += np.where(masked[:, premium] == best[:, 0], 1.0, 0.0)  # the premium wins exact ties
    pick = tie_break.argmax(axis=1)
    return np.where(np.isinf(best[:, 0]), premium, pick)


class Contributions(NamedTuple):
    """Each part's share of D(x): known words, text statistics (interactions split evenly), the embedding's."""

    words: list[bytes]
    word_values: np.ndarray
    stat_values: np.ndarray
    z: np.ndarray
    topic: float

    @property
    def total(self) -> float:
        return float(self.word_values.sum() + self.stat_values.sum()) + self.topic


class QualityRouter:
    """Adequacy predictions from shipped parameters, and the cheapest adequate pick with its reasons."""

    def __init__(self, params: dict, embed: Embed | None = None) -> None:
        """`embed` is required by embedding-router parameters (a file that has an `embedding` section)."""
        stats = params["stats"]
        if list(stats["names"]) != list(STAT_NAMES):
            raise ValueError("router parameters were trained with other text statistics; retrain the router")
        self.params = params
        self.words: dict[bytes, float] = {w.encode(): float(v) for w, v in params["words"].items()}
        self._mean, self._std = np.array(stats["mean"]), np.array(stats["std"])
        self._linear, self._quadratic = quadratic_form(np.array(stats["weights"]), bool(stats["interactions"]))
        self._abilities_seen: dict[str, float | None] = {}
        self.abilities: dict[str, float] = dict(params["abilities"])
        # A catalog name without a version (`mistral-7b-instruct`) finds the one versioned model the data has.
        versionless: dict[str, list[str]] = {}
        for name in self.abilities:
            versionless.setdefault(lookup_keys(name)[-1], []).append(name)
        self._versionless = {short: names[0] for short, names in versionless.items()
                             if len(names) == 1 and short not in self.abilities}
        self.tiers: dict[str, float] = dict(params["tiers"])
        self.reference: str = params["reference"]
        embedding = params.get("embedding")
        self._topic_weights = None if embedding is None else np.asarray(embedding["weights"], dtype=np.float32)
        if self._topic_weights is not None and embed is None:
            raise ValueError("embedding-router parameters need the prompt embedder (set GATEWAY_MODEL_DIR)")
        self._embed = embed
        self.variant = "words" if self._topic_weights is None else "embedding"

    async def prefetch(self, prompt: str) -> None:
        """Embed `prompt` off the event loop ahead of the synchronous decision. The decision then finds the vector
        in the shared embedder's LRU: without this, its model run (3-50 ms) would block the event loop and every
        other request with it. A router without embeddings, or with a plain embed function, has nothing to do."""
        from gateway.routing.embedding import embedding_text
        embedder = getattr(self._embed, "__self__", None)
        if self._topic_weights is not None and hasattr(embedder, "embed"):
            await embedder.embed([embedding_text(prompt)])

    @classmethod
    def load_default(cls, variant: str = "auto") -> "QualityRouter":
        """The parameters shipped inside the package (no network, no data folder). `auto` is DEFAULT_VARIANT when
        it can run, else the word router: the embedding router needs the local MiniLM model ($GATEWAY_MODEL_DIR)."""
        from gateway.routing.embedding import prompt_embed
        wanted = DEFAULT_VARIANT if variant == "auto" else variant
        embed = prompt_embed() if wanted == "embedding" else None
        if embed is None and wanted == "embedding" and variant != "auto":
            raise ValueError("the embedding router needs the local embedding model: set GATEWAY_MODEL_DIR")
        name = "embedding" if embed is not None else "words"
        return cls(orjson.loads(resources.files("gateway.routing").joinpath(VARIANT_FILES[name]).read_bytes()),
                   embed)

    @classmethod
    def from_file(cls, path: str, embed: Embed | None = None) -> "QualityRouter":
        with open(path, "rb") as handle:
            return cls(orjson.loads(handle.read()), embed)

    # -- scores -------------------------------------------------------------------------------------------------
    def need(self, prompt: str) -> float:
        """D(x) on the logit scale: higher means cheaper models keep less of the premium's quality."""
        return float(self.needs([prompt])[0])

    def needs(self, prompts: Sequence[str]) -> np.ndarray:
        """D(x) of many prompts; the embedding router embeds them in one call (one model run per prompt)."""
        scores = np.array([self._text_need(extract(p)) for p in prompts])
        return scores + self._topics(prompts) if self._topic_weights is not None else scores

    def _text_need(self, f: PromptFeatures) -> float:
        """The words' and statistics' share of D(x), without building the per-word arrays of `_contributions`."""
        words = sum(map(self.words.__getitem__, self.words.keys() & f.words)) * word_scale(f)
        z = standardize(f.stats, self._mean, self._std)
        return words + float(z @ (self._linear + self._quadratic @ z))

    def _topics(self, prompts: Sequence[str]) -> np.ndarray:
        """The embedding's share of D(x): what the prompt is about, read from its first 256 tokens."""
        from gateway.routing.embedding import embedding_text
        return np.asarray(self._embed([embedding_text(p) for p in prompts]), dtype=np.float32) @ self._topic_weights

    def _contributions(self, prompt: str) -> Contributions:
        """Each known word's and each statistic's share of D(x), and the embedding's; they sum to `need`."""
        f = extract(prompt)
        hits = list(self.words.keys() & f.words)
        word_values = np.fromiter(map(self.words.__getitem__, hits), float, len(hits)) * word_scale(f)
        z = standardize(f.stats, self._mean, self._std)
        topic = float(self._topics([prompt])[0]) if self._topic_weights is not None else 0.0
        return Contributions(hits, word_values, z * (self._linear + self._quadratic @ z), z, topic)

    def difficulty(self, prompt: str) -> float:
        """0..1: the expected share of the premium's quality a standard-tier model loses on this prompt."""
        return _logistic(self.need(prompt) - self.tiers["standard"])

    def ability(self, model: str, tier: str | None = None) -> float:
        """The model's learned ability, else its tier's, else the lowest tier's; +inf for the reference premium."""
        known = self._known_ability(model)
        return known if known is not None else self.tiers.get(tier or "", min(self.tiers.values()))

    def premium_ability(self, premium: str, tier: str | None = None) -> float:
        """A requested model the router has no data on counts as the reference unless its tier says it is smaller:
        the cautious reading (cheaper models then keep less of its quality)."""
        if self.is_known(premium) or tier in ("economy", "standard"):
            return self.ability(premium, tier)
        return math.inf

    def is_known(self, model: str) -> bool:
        return self._known_ability(model) is not None

    def _known_ability(self, model: str) -> float | None:
        """The learned ability under the model's most specific known name (memoized: names repeat per request)."""
        if model in self._abilities_seen:
            return self._abilities_seen[model]
        value = None
        for key in lookup_keys(model):
            key = self._versionless.get(key, key)
            if key == self.reference or key in self.abilities:
                value = math.inf if key == self.reference else self.abilities[key]
                break
        if len(self._abilities_seen) < 10_000:
            self._abilities_seen[model] = value
        return value

    def adequacy(self, prompt: str, model: str, tier: str | None = None,
                 premium: str | None = None, premium_tier: str | None = None) -> float:
        """Expected share of the premium's quality `model` keeps on `prompt` (premium: the reference by default)."""
        top = math.inf if premium is None else self.premium_ability(premium, premium_tier)
        return float(adequacy_from(np.array([self.need(prompt)]), np.array([self.ability(model, tier)]), top)[0, 0])

    def adequacies(self, prompt: str, models: Sequence[tuple[str, str | None]], premium: str,
                   premium_tier: str | None = None) -> list[float]:
        """Each model's adequacy for one prompt, relative to `premium`: the prompt is scored once (the decision
        engine's path, where every candidate of a request is judged)."""
        abilities = np.array([self.ability(name, tier) for name, tier in models])
        need = np.array([self.need(prompt)])
        return adequacy_from(need, abilities, self.premium_ability(premium, premium_tier))[0].tolist()

    def adequacy_matrix(self, prompts: Sequence[str], models: Sequence[tuple[str, str | None]], premium: str,
                        premium_tier: str | None = None) -> np.ndarray:
        """(prompts x models) adequacies relative to `premium`, for evaluations over many prompts."""
        needs = self.needs(prompts)
        abilities = np.array([self.ability(name, tier) for name, tier in models])
        return adequacy_from(needs, abilities, self.premium_ability(premium, premium_tier))

    # -- decision -----------------------------------------------------------------------------------------------
    def choose(self, prompt: str, candidates: Sequence[Candidate | tuple[str, str, float]], premium: str,
               quality_risk: float, reference: float | None = None) -> Choice:
        """The cheapest candidate whose expected loss is within what its saving buys (`allowed_loss`; `reference`
        in the unit of the prices, see `reference_cost`; without one, each route buys the flat allowance), else the
        premium (added to the candidates, unpriced, when it is not among them); the reasons say why, a line each."""
        cands = [Candidate(*c) for c in candidates]
        if not any(c.name == premium for c in cands):
            cands.append(Candidate(premium, "premium", math.inf))
        p = next(i for i, c in enumerate(cands) if c.name == premium)
        parts = self._contributions(prompt)
        need = parts.total
        adequacy = adequacy_from(np.array([need]), np.array([self.ability(c.name, c.tier) for c in cands]),
                                 self.premium_ability(premium, cands[p].tier))
        adequacy[0, p] = 1.0
        risk = min(max(float(quality_risk), 0.0), 1.0)
        prices = np.array([[c.price for c in cands]])
        pick = int(cheapest_adequate(adequacy, prices, p, risk, reference)[0])
        with np.errstate(invalid="ignore"):
            allowance = allowed_loss(prices[0, p] - prices[0], reference, risk)
        difficulty = _logistic(need - self.tiers["standard"])
        reasons = (f"difficulty {difficulty:.2f} ({_describe(parts)})",
                   *_pick_reasons(cands, adequacy[0], allowance, p, pick, risk))
        chosen = cands[pick]
        return Choice(chosen.name, chosen.tier, chosen.price, float(adequacy[0, pick]), difficulty, pick != p,
                      reasons)

    def describe(self, prompt: str) -> str:
        """The strongest signals behind the score, e.g. "raised by math words, 'prove'; lowered by 'capital'"."""
        return _describe(self._contributions(prompt))


def _describe(parts: Contributions, top: int = 3) -> str:
    """A statistic is named by how the prompt has it: "raised by no answer options" when its absence raises D;
    the embedding's share reads as the prompt's topic."""
    words, n = parts.words, len(parts.words)
    values = np.concatenate([parts.word_values, parts.stat_values, [parts.topic]])
    strongest = np.argsort(-np.abs(values))[:top]
    labels = [f"'{words[i].decode(errors='replace')}'" if i < n else "its topic" if i == len(values) - 1
              else STAT_LABELS[STAT_NAMES[i - n]][0 if parts.z[i - n] > 0 else 1] for i in strongest]
    up = [label for i, label in zip(strongest, labels) if values[i] > 0.02]
    down = [label for i, label in zip(strongest, labels) if values[i] < -0.02]
    parts = ([f"raised by {', '.join(up)}"] if up else []) + ([f"lowered by {', '.join(down)}"] if down else [])
    return "; ".join(parts) or "no strong signal"


def adequacy_from(needs: np.ndarray, abilities: np.ndarray, premium_ability: float) -> np.ndarray:
    """A(m | p) for every need (rows) and ability (columns); models at least as able as p keep all of it."""
    keep_m = _sigmoid(abilities[None, :] - needs[:, None])
    keep_p = _sigmoid(premium_ability - needs[:, None])
    return np.where(abilities[None, :] >= premium_ability, 1.0, 1.0 - np.maximum(keep_p - keep_m, 0.0))


def _pick_reasons(cands: list[Candidate], adequacy: np.ndarray, allowance: np.ndarray, p: int, pick: int,
                  risk: float) -> list[str]:
    if risk <= 0.0:
        return [f"quality_risk 0: keeping {cands[p].name} as asked"]
    cheaper = [i for i, c in enumerate(cands) if c.price < cands[p].price]
    if pick != p:
        return [f"{cands[pick].name} adequacy {adequacy[pick]:.2f}: expected loss {1 - adequacy[pick]:.2f} within "
                f"{min(allowance[pick], 1.0):.2f} allowed for its saving (quality_risk {risk:.2f})",
                f"cheapest adequate of {len(cheaper)} cheaper candidate(s)"]
    if not cheaper:
        return [f"no candidate is cheaper than {cands[p].name}"]
    best = max(cheaper, key=lambda i: adequacy[i] + allowance[i])
    return [f"no cheaper candidate's expected loss is within what its saving buys (best: {cands[best].name} "
            f"loses {1 - adequacy[best]:.2f}, {min(allowance[best], 1.0):.2f} allowed); keeping {cands[p].name}"]


def _logistic(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else 1.0 - 1.0 / (1.0 + math.exp(z))


def _sigmoid(z: np.ndarray | float) -> np.ndarray:
    """Logistic function; +-inf map to exactly 1 and 0 (clipping avoids overflow warnings cheaply)."""
    return 1.0 / (1.0 + np.exp(np.minimum(np.maximum(np.negative(z), -700.0), 700.0)))
