"""The cost-based decision: price every option the matched rule allows and take the cheapest that keeps quality.

    Decision = argmin(MainSessionCost, WorkerSessionCost + IntegrationCost)        (DESIGN.md)

Options are the main session as asked, each cheaper model the rule allows (same context), the minimized context
on the requested or a cheaper model, and parallel workers when the last turn holds independent subtasks. Each is
priced from the analyzer's token counts, the catalog's prices and the expected answer length for the task type.
Quality is guarded twice: the rule's floor (the lowest tier allowed) and the quality router's verdict for the
prompt at the rule's `quality_risk`. When the analysis is unsure, the request runs as asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Protocol, Sequence

import numpy as np

from gateway.accounting.tokens import PromptCounter
from gateway.analysis.types import Analysis
from gateway.config.settings import TIERS, ModelSpec, Settings
from gateway.decision.answer_length import AnswerLengths
from gateway.decision.prompt_cache import PromptCacheModel, PromptPrefixes
from gateway.orchestrator.context import MinimizedContext, minimize
from gateway.orchestrator.split_plan import SplitPlan, plan_split
from gateway.policy.schema import Actions, Match
from gateway.routing.quality import allowed_loss, reference_cost, within_allowance

_PER_MILLION = 1_000_000


class Router(Protocol):
    """Judges how likely models are to answer a prompt as well as the requested one (see gateway/routing)."""

    def adequacies(self, prompt: str, models: Sequence[tuple[str, str | None]], premium: str,
                   premium_tier: str | None = None) -> list[float]: ...


@dataclass(frozen=True)
class Option:
    kind: str                      # main | routed | minimized | routed+minimized | split
    model: ModelSpec
    prompt_tokens: int
    output_tokens: int
    cost_usd: float
    allowed: bool
    note: str
    context: MinimizedContext | None = None
    workers: int = 0
    split: SplitPlan | None = None
    cached_tokens: int = 0         # of prompt_tokens, predicted to be billed at the cached-input price


@dataclass(frozen=True)
class Decision:
    analysis: Analysis
    match: Match
    requested: ModelSpec
    options: tuple[Option, ...]
    choice: Option
    reasons: tuple[str, ...]
    messages: list[dict] = field(default_factory=list, repr=False)  # the conversation as asked
    baseline_cached_tokens: int = 0  # the prompt as asked: what the provider would have cached (see prompt_cache)

    @property
    def baseline(self) -> Option:
        return self.options[0]

    @property
    def name(self) -> str:
        """The decision as DESIGN.md names it for `/v1/gateway/evaluate`."""
        if self.choice.kind == "split":
            return "parallel_workers"
        return "main_session" if self.choice.kind == "main" else "worker_session"


@dataclass
class DecisionEngine:
    settings: Settings
    router: Router | None
    lengths: AnswerLengths = field(default_factory=AnswerLengths.load_default)
    prompt_cache: PromptCacheModel = field(default_factory=PromptCacheModel)

    def decide(self, analysis: Analysis, match: Match, requested: ModelSpec, messages: list[dict],
               counter: PromptCounter, *, max_tokens: int | None = None, n: int = 1,
               splittable: bool = True, tools: list[dict] | None = None) -> Decision:
        actions = match.actions
        output = self.lengths.expected(analysis.task_type, analysis.tokens.last_user, max_tokens) * n
        full, sent = PromptPrefixes(messages, tools, counter), self.prompt_cache.sent
        baseline_cached = full.cached_tokens(self.prompt_cache.asked, requested)
        main = _priced("main", requested, analysis.tokens.total, output, True, "the request as asked",
                       cached=full.cached_tokens(sent, requested))
        split = self._split_option(analysis, actions, messages, counter, max_tokens, main, splittable and n == 1)
        if analysis.confidence < actions.min_confidence:  # unsure of the task: as asked, unless it surely splits
            note = f"analysis confidence {analysis.confidence:.2f} < {actions.min_confidence:.2f}: run as asked"
            if split.allowed:
                return Decision(analysis, match, requested, (main, split), split, self._reasons(match, main, split),
                                messages, baseline_cached)
            return Decision(analysis, match, requested, (main,), main, (note,), messages, baseline_cached)
        routed = self._routed(analysis, actions, requested, output, main, full)
        models = [(option.model, option.allowed, option.note) for option in routed]
        options = [main, *routed]
        context = self._minimized(analysis, actions, messages, counter)
        if context is not None:
            prompt = analysis.tokens.total - context.removed_tokens
            trimmed = PromptPrefixes(context.messages, tools, counter)  # a new prefix: mostly uncached
            for kind, model, ok, note in [("minimized", requested, True, context.reason),
                                          *(("routed+minimized", m, ok, note) for m, ok, note in models)]:
                options.append(_priced(kind, model, prompt, output, ok, note, context,
                                       cached=trimmed.cached_tokens(sent, model)))
        options.append(split)
        if actions.route.mode in ("model", "tier") and any(o.allowed for o in options if o.kind != "main"):
            options[0] = _with(main, False, f"rule routes to {actions.route.describe()}")
        allowed = [option for option in options if option.allowed] or [main]
        choice = min(allowed, key=lambda option: option.cost_usd)
        if split.allowed and actions.split.latency_sensitive:
            choice = split  # the policy pays for the sooner answer (see _split_option for when it is sooner)
        return Decision(analysis, match, requested, tuple(options), choice, self._reasons(match, main, choice),
                        messages, baseline_cached)

    def _routed(self, analysis: Analysis, actions: Actions, requested: ModelSpec, output: int, main: Option,
                prompt: PromptPrefixes) -> list[Option]:
        """A priced option for every model the route names (the requested model excluded), within the hard limits
        and, unless the operator named the model, trusted by the quality router for what it saves."""
        route = actions.route
        if route.mode == "as_requested":
            return []
        if route.mode == "model":
            names = [route.model]
        elif route.mode == "candidates":
            names = list(route.candidates)
        else:
            names = [m.name for m in self.settings.catalog() if m.is_chat and (route.mode == "auto" or
                                                                               m.tier == route.tier)]
        floor = TIERS.index(actions.quality_floor)
        models = [model for model in map(self.settings.find_model, names)
                  if model is not None and model.name != requested.name and self._usable(model, requested)]
        total, sent = analysis.tokens.total, self.prompt_cache.sent
        cached = [min(prompt.cached_tokens(sent, model), total) for model in models]
        costs = [_cost(model, total, output, hit) for model, hit in zip(models, cached)]
        verdicts = [_limits(model, analysis, actions, floor, output) for model in models]
        if route.mode == "model":  # a model the operator names is taken on the operator's word
            verdicts = [(ok, note or "named by the rule") for ok, note in verdicts]
        else:
            verdicts = self._judged(models, costs, verdicts, analysis, actions, main)
        return [Option("routed", model, total, output, cost, ok, note, cached_tokens=hit)
                for model, cost, hit, (ok, note) in zip(models, costs, cached, verdicts)]

    def _judged(self, models: list[ModelSpec], costs: list[float], verdicts: list[tuple[bool, str]],
                analysis: Analysis, actions: Actions, main: Option) -> list[tuple[bool, str]]:
        """The quality router's verdict on the models within the limits, all scored in one pass: a model is
        trusted when its expected loss of quality is within what its saving buys (`allowed_loss`). Where the
        request as asked stays allowed (auto, candidates), a model that costs as much or more can never be
        chosen, so it is not scored."""
        if self.router is None:
            trusted = actions.quality_risk >= 1.0
            return [(ok and trusted, note or "no quality router loaded") for ok, note in verdicts]
        main_stays = actions.route.mode in ("auto", "candidates")
        verdicts = [(False, "costs as much as the request as asked or more") if ok and main_stays and
                    cost >= main.cost_usd else (ok, note) for (ok, note), cost in zip(verdicts, costs)]
        within = [i for i, (ok, _) in enumerate(verdicts) if ok]
        if not within:
            return verdicts
        requested = main.model
        adequacy = self.router.adequacies(analysis.last_user_text, [(models[i].name, models[i].tier) for i in within],
                                          requested.name, requested.tier)
        allowance = allowed_loss(np.array([main.cost_usd - costs[i] for i in within]),
                                 reference_cost(requested.input_per_million, requested.output_per_million),
                                 actions.quality_risk)
        for i, kept, allowed in zip(within, adequacy, allowance.tolist()):
            ok = bool(within_allowance(kept, allowed))
            verdicts[i] = (ok, f"{'trusted' if ok else 'not trusted'}: adequacy {kept:.2f}, expected loss "
                               f"{1 - kept:.2f} vs {min(allowed, 1.0):.2f} its saving buys")
        return verdicts

    def _usable(self, model: ModelSpec, requested: ModelSpec) -> bool:
        """Callable with the credentials at hand: the requested model's own provider (whatever key works for the
        request works there), or another provider with a gateway-held key (a client's pass-through key is for
        its own provider only), or any provider when everything goes to one `--upstream`."""
        if model.provider == requested.provider:
            return True
        provider = self.settings.providers[model.provider]
        return not provider.key_passthrough and (provider.api_key is not None
                                                 or self.settings.upstream_override is not None)

    def _minimized(self, analysis: Analysis, actions: Actions, messages: list[dict],
                   counter: PromptCounter) -> MinimizedContext | None:
        if not actions.context.minimizes:
            return None
        independent = analysis.context_dependency < actions.independence_threshold
        return minimize(messages, actions.context, independent=independent, counter=counter)

    def _split_option(self, analysis: Analysis, actions: Actions, messages: list[dict], counter: PromptCounter,
                      max_tokens: int | None, main: Option, splittable: bool) -> Option:
        """Workers + integration, priced honestly: every worker pays for the system prompt, the shared context, its
        item and the note; the answers together are at least as long as one whole answer; an integration call
        reads all the parts and writes them again. Allowed only when cheaper than the main session, or, for a
        latency-sensitive policy, when the longest part is at most half the whole answer (twice as soon)."""
        split, shape = actions.split, analysis.split
        worker = self._worker_model(split.worker_model, main.model)
        if not (analysis.has_subtasks and shape and split.allowed and worker and splittable):
            why = "no independent subtasks" if not analysis.has_subtasks else "splitting not allowed here"
            return _priced("split", worker or main.model, 0, 0, False, why)
        plan = plan_split(shape, messages, split.max_workers)
        prompts = [counter.count_messages(part.messages) for part in plan.parts]
        answers = [self._part_answer(analysis, shape.kind, main.output_tokens, shape.n, len(plan.parts),
                                     counter.count(part.messages[-1]["content"]), max_tokens) for part in plan.parts]
        prompt, output = sum(prompts), max(sum(answers), main.output_tokens)
        if split.integration == "call":
            prompt, output = prompt + output + analysis.tokens.last_user, output * 2
        option = _priced("split", worker, prompt, output, False, "", workers=len(plan.parts))
        if shape.confidence < split.min_confidence:
            return _with(option, False, f"split confidence {shape.confidence:.2f} < {split.min_confidence:.2f}")
        if option.cost_usd < main.cost_usd:
            return _with(option, True, f"{len(plan.parts)} workers: {shape.reason}", plan)
        if split.latency_sensitive and max(answers) * 2 <= main.output_tokens:
            return _with(option, True, f"{len(plan.parts)} workers, latency-sensitive: {shape.reason}", plan)
        return _with(option, False, "workers would cost more than the main session")

    def _worker_model(self, named: str | None, requested: ModelSpec) -> ModelSpec | None:
        """The policy's worker model, else the cheapest usable economy-tier chat model."""
        if named:
            return self.settings.find_model(named)
        economy = [m for m in self.settings.catalog() if m.is_chat and m.tier == TIERS[0] and
                   self._usable(m, requested)]
        return min(economy, key=lambda m: m.input_per_million + m.output_per_million, default=None)

    def _part_answer(self, analysis: Analysis, kind: str, whole: int, n: int, parts: int, part_tokens: int,
                     max_tokens: int | None) -> int:
        """Expected answer of one part: a share of the whole for a count, the length model's guess for an item."""
        if kind == "count":
            return max(1, whole * -(-n // parts) // max(1, n))
        return self.lengths.expected(analysis.task_type, part_tokens, max_tokens)

    @staticmethod
    def _reasons(match: Match, main: Option, choice: Option) -> tuple[str, ...]:
        reasons = [f"rule {match.rule_name}: route {match.actions.route.describe()}, floor "
                   f"{match.actions.quality_floor}, quality_risk {match.actions.quality_risk:g}"]
        if choice is main:
            reasons.append("the main session as asked is the cheapest allowed option")
        else:
            saved = 1 - choice.cost_usd / main.cost_usd if main.cost_usd else 0.0
            reasons.append(f"{choice.kind} on {choice.model.name}: est. ${choice.cost_usd:.6f} vs "
                           f"${main.cost_usd:.6f} as asked ({saved:.0%} less); {choice.note}")
        return tuple(reasons)


def _limits(model: ModelSpec, analysis: Analysis, actions: Actions, floor: int, output: int) -> tuple[bool, str]:
    """The hard limits, before any judgement of quality: the rule's floor and the model's context window."""
    if TIERS.index(model.tier) < floor:
        return False, f"tier {model.tier} is below the floor {actions.quality_floor}"
    if analysis.tokens.total + analysis.tokens.margin + output > model.context_window:  # estimates: at their p99
        return False, f"prompt and answer exceed its {model.context_window}-token window"
    return True, ""


def _priced(kind: str, model: ModelSpec, prompt: int, output: int, allowed: bool, note: str,
            context: MinimizedContext | None = None, workers: int = 0, cached: int = 0) -> Option:
    """An option's estimated cost; `cached` prompt tokens at the cached-input price (see prompt_cache)."""
    cached = min(cached, prompt)
    return Option(kind, model, prompt, output, _cost(model, prompt, output, cached), allowed, note, context, workers,
                  cached_tokens=cached)


def _cost(model: ModelSpec, prompt: int, output: int, cached: int) -> float:
    """Estimated USD: `cached` of the `prompt` tokens at the cached-input price, the rest at the input price."""
    return ((prompt - cached) * model.input_per_million + cached * model.cached_input_per_million
            + output * model.output_per_million) / _PER_MILLION


def _with(option: Option, allowed: bool, note: str, plan: SplitPlan | None = None) -> Option:
    return replace(option, allowed=allowed, note=note, split=plan)
