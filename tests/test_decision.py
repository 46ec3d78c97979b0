"""The decision engine prices every allowed option and takes the cheapest that keeps quality; context minimizing."""

from __future__ import annotations

import pytest

from gateway.accounting.cost import Usage
from gateway.accounting.outcome import outcome_for
from gateway.accounting.tokens import counter_for_model
from gateway.analysis import analyze
from gateway.analysis.types import TokenCounts
from gateway.config.settings import load_settings
from gateway.decision.engine import DecisionEngine
from gateway.decision.plan import plan_request
from gateway.orchestrator.context import minimize, split_turns
from gateway.policy.loader import Catalog, load_policy_text
from gateway.policy.matcher import RequestFacts, match
from gateway.policy.schema import ContextPolicy
from gateway.routing.quality import MAX_SAVING_SCALE, reference_cost
from gateway.server.validation import validate_chat_request
from tests.test_policy import analysis

SETTINGS = load_settings(None, upstream_override="http://127.0.0.1:9/v1", environ={})
CATALOG = Catalog.from_settings(SETTINGS)
COUNTER = counter_for_model("gpt-4o")


class ThresholdRouter:
    """A transparent router for these tests: adequacy by tier alone (the engine needs 1 - quality_risk)."""

    def __init__(self, adequacy_by_tier: dict[str, float]):
        self.adequacy_by_tier = adequacy_by_tier

    def adequacies(self, prompt, models, premium, premium_tier=None) -> list[float]:
        return [self.adequacy_by_tier[tier] for _, tier in models]


def decide(policy_text: str, router=None, a=None, messages=None, model="gpt-4o"):
    policy = load_policy_text("name: p\n" + policy_text, "p.yaml", CATALOG)
    a = a or analysis()
    engine = DecisionEngine(SETTINGS, router or ThresholdRouter({"economy": 0.95, "standard": 0.97,
                                                                 "premium": 1.0}))
    messages = messages or [{"role": "user", "content": a.last_user_text}]
    return engine.decide(a, match(policy, RequestFacts(model=model, analysis=a)), SETTINGS.find_model(model),
                         messages, COUNTER)


def test_auto_takes_the_cheapest_trusted_model():
    decision = decide("defaults: {route: auto, quality_risk: 0.1}")
    assert decision.name == "worker_session" and decision.choice.kind == "routed"
    allowed = [o for o in decision.options if o.allowed]
    assert decision.choice.cost_usd == min(o.cost_usd for o in allowed) < decision.baseline.cost_usd
    assert decision.choice.model.tier == "economy"


def test_untrusted_tiers_are_not_taken():
    decision = decide("defaults: {route: auto, quality_risk: 0.04}")   # economy loses 0.05, more than it may
    assert decision.choice.model.tier in ("standard", "premium")
    economy = [o for o in decision.options if o.kind == "routed" and o.model.tier == "economy"]
    assert economy and not any(o.allowed for o in economy)
    for option in economy:
        saving = (decision.baseline.cost_usd - option.cost_usd) / reference_cost(2.5, 10.0)  # gpt-4o's prices
        allowance = 0.04 / 0.96 * min(saving, MAX_SAVING_SCALE)
        assert allowance < 0.05 and f"not trusted: adequacy 0.95, expected loss 0.05 vs {allowance:.2f}" in option.note


def test_a_model_that_costs_more_than_asked_is_not_scored_where_the_request_as_asked_stays_allowed():
    class CountingRouter(ThresholdRouter):
        scored: list[str] = []

        def adequacies(self, prompt, models, premium, premium_tier=None) -> list[float]:
            self.scored += [name for name, _ in models]
            return super().adequacies(prompt, models, premium, premium_tier)

    router = CountingRouter({"economy": 0.95, "standard": 0.97, "premium": 1.0})
    decision = decide("defaults: {route: auto, quality_risk: 0.1}", router=router)
    pricier = [o for o in decision.options if o.kind == "routed" and o.cost_usd >= decision.baseline.cost_usd]
    assert pricier and all(not o.allowed and "costs as much" in o.note for o in pricier)
    assert router.scored and not {o.model.name for o in pricier} & set(router.scored)
    tier = decide("defaults: {route: {tier: premium}, quality_risk: 0.1}", router=router)  # main is replaced here
    assert any(o.allowed and o.cost_usd >= tier.baseline.cost_usd for o in tier.options if o.kind == "routed")


def test_a_request_that_saves_more_may_risk_more():
    """quality_risk is spent per money saved: an economy model (expected loss 0.05) is not trusted with a short
    question but is with a long document (forty times the saving), and with neither at quality_risk 0."""
    policy = "defaults: {route: auto, quality_risk: 0.02}"
    short = decide(policy, a=analysis(tokens=TokenCounts(10, 0, 20, 0)))
    long = decide(policy, a=analysis(tokens=TokenCounts(10, 0, 12_000, 0)))
    assert short.choice.model.tier != "economy"
    assert long.choice.kind == "routed" and long.choice.model.tier == "economy"
    never = decide(policy.replace("0.02", "0"), a=analysis(tokens=TokenCounts(10, 0, 12_000, 0)))
    assert never.choice.model.tier != "economy"


def test_quality_floor_and_as_requested():
    floored = decide("defaults: {route: auto, quality_risk: 0.5, quality_floor: premium}")
    assert all(o.model.tier == "premium" for o in floored.options if o.allowed)
    pinned = decide("defaults: {route: as_requested, quality_risk: 1}")
    assert pinned.name == "main_session" and pinned.choice.model.name == "gpt-4o"


def test_a_named_model_or_tier_replaces_the_main_session():
    named = decide("defaults: {route: {model: gpt-4.1-mini}}")
    assert named.choice.model.name == "gpt-4.1-mini" and not named.baseline.allowed
    tier = decide("defaults: {route: {tier: economy}, quality_risk: 0.1}")
    assert tier.choice.model.tier == "economy"


def test_low_confidence_runs_as_asked():
    decision = decide("defaults: {route: auto, quality_risk: 1, min_confidence: 0.8}", a=analysis(confidence=0.4))
    assert decision.name == "main_session" and len(decision.options) == 1
    assert "confidence 0.40 < 0.80" in decision.reasons[0]


CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "Tell me about the history of Rome in detail. " * 20},
    {"role": "assistant", "content": "Rome was founded ... " * 60},
    {"role": "user", "content": "Look up the weather."},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
                                                            "function": {"name": "w", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
    {"role": "assistant", "content": "It is sunny."},
    {"role": "user", "content": "What is the boiling point of water at sea level?"},
]


def test_turns_keep_tool_calls_with_their_results():
    system, turns = split_turns(CONVERSATION)
    assert len(system) == 1 and [len(turn) for turn in turns] == [2, 4, 1]
    kept = minimize(CONVERSATION, ContextPolicy(keep_last_turns=1), independent=False, counter=COUNTER)
    assert [m["role"] for m in kept.messages] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert kept.removed_messages == 2


def test_history_is_dropped_only_when_the_turn_stands_alone():
    policy = ContextPolicy(drop_history_when_independent=True)
    dropped = minimize(CONVERSATION, policy, independent=True, counter=COUNTER)
    assert [m["role"] for m in dropped.messages] == ["system", "user"]
    assert dropped.removed_tokens == COUNTER.count_messages(CONVERSATION) - COUNTER.count_messages(dropped.messages)
    assert minimize(CONVERSATION, policy, independent=False, counter=COUNTER) is None


def test_token_budget_drops_oldest_turns_first():
    budget = COUNTER.count_messages(CONVERSATION) - 10
    kept = minimize(CONVERSATION, ContextPolicy(max_tokens=budget), independent=False, counter=COUNTER)
    assert kept.messages[1]["content"] == "Look up the weather." and "oldest turns to fit" in kept.reason


def test_minimized_context_is_priced_chosen_and_its_saving_accounted():
    total = COUNTER.count_messages(CONVERSATION)
    a = analysis(task="open_question", dependency=0.05, text=CONVERSATION[-1]["content"],
                 tokens=TokenCounts(15, total - 37, 22, 0))
    decision = decide("defaults: {route: as_requested, context: {drop_history_when_independent: true}}",
                      a=a, messages=CONVERSATION)
    assert decision.choice.kind == "minimized" and decision.name == "worker_session"
    assert decision.choice.prompt_tokens == a.tokens.total - decision.choice.context.removed_tokens
    request = validate_chat_request({"model": "gpt-4o", "messages": CONVERSATION})
    plan = plan_request(request, b"{}", SETTINGS, decision)
    assert plan.route == "main" and len(plan.messages) == 2
    outcome = outcome_for(plan, Usage(prompt_tokens=30, completion_tokens=100))
    removed = decision.choice.context.removed_tokens
    assert outcome.saved_by == {"context": pytest.approx(removed * 2.5 / 1e6)}
    assert outcome.baseline_cost_usd - outcome.cost_usd == pytest.approx(outcome.saved_by["context"])


def test_routing_saving_is_accounted_separately():
    decision = decide("defaults: {route: {model: gpt-4o-mini}}")
    request = validate_chat_request({"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]})
    plan = plan_request(request, b"{}", SETTINGS, decision)
    outcome = outcome_for(plan, Usage(prompt_tokens=1000, completion_tokens=500))
    assert plan.route == "routed" and outcome.models == ("gpt-4o-mini",)
    expected = (1000 * (2.5 - 0.15) + 500 * (10 - 0.6)) / 1e6
    assert outcome.saved_by == {"routing": pytest.approx(expected)} and outcome.saved_usd == pytest.approx(expected)


def test_split_is_priced_when_subtasks_exist():
    text = "Answer these:\n1. What is 2+2?\n2. Name a prime.\n3. Define entropy."
    a = analyze([{"role": "user", "content": text}], None, COUNTER)
    decision = decide("defaults: {split: {allowed: true, worker_model: gpt-4o-mini, max_workers: 2}}", a=a)
    split = next(o for o in decision.options if o.kind == "split")
    assert split.workers == 3 and split.model.name == "gpt-4o-mini" and split.cost_usd > 0
    assert split.prompt_tokens > 3 * a.tokens.last_user // 2  # every worker pays for the context and its note


def _unseen_long_conversation(tag: str) -> list[dict]:
    """Twelve turns of new prose (~1,500 characters each): far past a decision's exact-count budget."""
    body = ("The quarterly report covers revenue, churn and the hiring plan; section {i} explains the figures for "
            "region {i}, with 3.{i}% growth and notes on pricing, support load and the roadmap. ") * 9
    turns = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"[{tag} {i}] " + body.format(i=i)}
             for i in range(12)]
    return turns + [{"role": "user", "content": "What is the capital of Australia?"}]


def test_a_decision_estimates_unseen_history_but_accounting_counts_it_exactly():
    messages = _unseen_long_conversation("accounting")
    policy = load_policy_text("name: p\ndefaults: {route: as_requested, context: {keep_last_turns: 1}}\n",
                              "p.yaml", CATALOG)
    a = analyze(messages, None, COUNTER.tally())
    assert a.tokens.estimated > 0 and a.tokens.margin > 0 and "estimated)" in a.signals[-1]
    engine = DecisionEngine(SETTINGS, ThresholdRouter({"economy": 1.0, "standard": 1.0, "premium": 1.0}))
    decision = engine.decide(a, match(policy, RequestFacts(model="gpt-4o", analysis=a)),
                             SETTINGS.find_model("gpt-4o"), messages, COUNTER.tally())
    assert decision.choice.kind == "minimized"
    request = validate_chat_request({"model": "gpt-4o", "messages": messages})
    plan = plan_request(request, b"{}", SETTINGS, decision)
    exact = COUNTER.count_messages(messages)
    assert plan.baseline_prompt_tokens == exact
    assert plan.removed_prompt_tokens == exact - COUNTER.count_messages(decision.choice.context.messages)
    assert abs(a.tokens.total / exact - 1) <= 0.1  # the estimate itself: see gateway/accounting/token_estimate.json


def test_the_context_window_check_adds_the_estimate_margin():
    def within_128k(margin: int) -> list:
        a = analysis(tokens=TokenCounts(last_user=120_000, estimated=120_000, margin=margin))
        decision = decide("defaults: {route: auto, quality_risk: 1.0}", a=a)
        return [o for o in decision.options if o.kind == "routed" and o.model.context_window == 128_000
                and o.cost_usd < decision.baseline.cost_usd]  # a pricier model is never scored (auto keeps main)

    assert within_128k(0) and all(o.allowed for o in within_128k(0))  # fits when the count is taken as exact
    assert all(not o.allowed and "window" in o.note for o in within_128k(8_000))  # not at the estimate's p99


class EmbeddingRouter(ThresholdRouter):
    """Records the prompts it is asked to embed ahead of the decision (the embedding router's `prefetch`)."""

    def __init__(self, adequacy_by_tier: dict[str, float]):
        super().__init__(adequacy_by_tier)
        self.embedded: list[str] = []

    async def prefetch(self, prompt: str) -> None:
        self.embedded.append(prompt)


async def test_the_router_embeds_a_prompt_only_when_the_matched_rule_will_ask_it():
    """Under the default policy a tool-calling request runs as asked (rule tool-calling-as-asked): deciding it must
    not pay for the router's model run; a plain question routed `auto` does, before the engine asks for it."""
    from gateway.decision.decider import Caller, Decider
    from gateway.server.state import load_policies

    router = EmbeddingRouter({"economy": 0.95, "standard": 0.97, "premium": 1.0})
    decider = Decider(SETTINGS, load_policies(SETTINGS), DecisionEngine(SETTINGS, router))
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object", "properties": {}}}}
    asked = {"model": "gpt-4o", "messages": [{"role": "user", "content": "Which city hosts the 2028 Olympics?"}]}
    with_tools = await decider.decide_async(validate_chat_request({**asked, "tools": [tool]}),
                                            SETTINGS.find_model("gpt-4o"), Caller())
    assert with_tools.match.rule_name == "tool-calling-as-asked" and router.embedded == []
    plain = await decider.decide_async(validate_chat_request(asked), SETTINGS.find_model("gpt-4o"), Caller())
    assert plain.match.actions.route.mode == "auto"
    assert router.embedded == ["Which city hosts the 2028 Olympics?"]
