"""The provider's prompt cache in prices: predicted before sending, and the baseline's share honest against a real
(simulated) provider that caches prefixes."""

from __future__ import annotations

import itertools

import httpx
import openai

from gateway.accounting.tokens import counter_for_model
from gateway.config.settings import load_settings
from gateway.decision.decider import Caller
from gateway.decision.prompt_cache import (DEFAULT_TTL_S, PrefixMemory, PromptCacheModel, PromptPrefixes,
                                           billable_cached, prefix_keys)
from gateway.server.state import GatewayState
from gateway.server.validation import validate_chat_request

WORDS = ("the river carries silt from the mountains to the delta where farmers plant rice in the spring and "
         "harvest it before the monsoon returns with heavy rain that floods the lower fields").split()
QUESTIONS = ["What is the boiling point of water at sea level in Celsius?",
             "Name three primary colours used in painting.",
             "How many continents are there on Earth?",
             "What gas do plants absorb from the air?",
             "Which planet is closest to the Sun?",
             "What is the chemical symbol for gold?"]
TRIM_POLICY = """name: trim
defaults:
  route: as_requested
  min_confidence: 0
  cache: {exact: false, semantic: false}
  split: {allowed: false}
  context: {keep_system: true, drop_history_when_independent: true}
"""


def answer_text(turn: int, words: int = 700) -> str:
    """A long assistant answer, different for every turn."""
    cycle = itertools.cycle(WORDS)
    return " ".join(f"{next(cycle)}{turn}" if i % 9 == 0 else next(cycle) for i in range(words))


def conversation(turns: int) -> list[list[dict]]:
    """The request of every turn: the history (fixed answers, so both sides send the same) and a new question."""
    messages: list[dict] = [{"role": "system", "content": "You answer general knowledge questions briefly."}]
    requests = []
    for turn in range(turns):
        messages = messages + [{"role": "user", "content": QUESTIONS[turn % len(QUESTIONS)]}]
        requests.append(messages)
        messages = messages + [{"role": "assistant", "content": answer_text(turn)}]
    return requests


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_prefix_memory_finds_the_longest_sent_prefix_until_it_expires():
    clock = Clock()
    memory = PrefixMemory(clock=clock)
    first, second = conversation(2)
    memory.remember("gpt-4.1", prefix_keys(first, None), DEFAULT_TTL_S)
    keys = prefix_keys(second, None)
    assert memory.longest("gpt-4.1", keys) == len(first)       # the earlier prompt is the cached prefix
    assert memory.longest("gpt-4o", keys) == 0                  # caches are per model
    assert memory.longest("gpt-4.1", prefix_keys(second, [{"type": "function"}])) == 0  # tools come first
    clock.now += DEFAULT_TTL_S + 1
    assert memory.longest("gpt-4.1", keys) == 0


def test_prefix_memory_is_bounded_and_forgets_the_least_recent():
    memory = PrefixMemory(max_entries=4)
    memory.remember("m", [1, 2, 3], 60)
    memory.remember("m", [4, 5], 60)
    assert memory.longest("m", [1]) == 0 and memory.longest("m", [4, 5]) == 2 and memory.longest("m", [2, 3]) == 2


def test_billable_cached_follows_the_providers_steps():
    assert [billable_cached(n) for n in (0, 1023, 1024, 1151, 1152, 5000)] == [0, 0, 1024, 1024, 1152, 4992]


def test_options_are_priced_with_what_the_provider_holds():
    state = GatewayState.create(load_settings(None, upstream_override="http://127.0.0.1:9/v1"))
    decider, model = state.decider, state.settings.find_model("gpt-4.1")
    first, second = conversation(4)[2:]  # two long answers of history: over the provider's 1,024 tokens
    decider.remember_sent(model, first, validate_chat_request({"model": "gpt-4.1", "messages": first}))
    request = validate_chat_request({"model": "gpt-4.1", "messages": second})
    decision = decider.decide(request, model, Caller())
    main = decision.options[0]
    counter = counter_for_model("gpt-4.1")
    assert main.cached_tokens == billable_cached(counter.count_messages(first) - 3) > 1024
    assert main.cost_usd < (main.prompt_tokens * 2.0 + main.output_tokens * 8.0) / 1e6
    minimized = [option for option in decision.options if option.kind == "minimized"]
    assert minimized and minimized[0].cached_tokens == 0      # a trimmed prompt starts a new prefix
    assert decision.baseline_cached_tokens == 0               # nothing was asked through this gateway yet
    mini = state.settings.find_model("gpt-4o-mini")
    assert PromptPrefixes(second, None, counter).cached_tokens(decider.engine.prompt_cache.sent, mini) == 0


def test_extended_retention_keeps_the_prefix_for_a_day():
    clock = Clock()
    cache = PromptCacheModel(clock=clock)
    model = load_settings(None).find_model("gpt-4.1")
    first, second = conversation(4)[2:]
    cache.remember(cache.sent, model, first, None, {"prompt_cache_retention": "24h"})
    clock.now += 3600
    counter = counter_for_model("gpt-4.1")
    assert PromptPrefixes(second, None, counter).cached_tokens(cache.sent, model) > 1024


def test_prefix_memory_finds_the_live_run_by_bisection_on_every_length():
    memory = PrefixMemory()
    for sent in range(0, 40):
        memory.remember("m", [(sent, i) for i in range(sent)], 60)  # keys as tuples: a separate chain per length
        for extra in (0, 1, 5):
            assert memory.longest("m", [(sent, i) for i in range(sent + extra)]) == sent


def test_a_conversation_whose_first_message_was_never_sent_is_not_hashed_further():
    cache = PromptCacheModel()
    model = load_settings(None).find_model("gpt-4.1")
    first, second = conversation(4)[2:]
    cache.remember(cache.sent, model, first, None, {})
    counter = counter_for_model("gpt-4.1")
    other_start = [{"role": "system", "content": "Another assistant."}, *second[1:]]
    unseen = PromptPrefixes(other_start, None, counter)
    assert unseen.cached_tokens(cache.sent, model) == 0 and len(unseen.keys.computed) == 1   # not one hash per message
    resent = PromptPrefixes(second, None, counter)
    assert resent.cached_tokens(cache.sent, model) > 1024


async def test_context_saving_is_priced_at_what_the_provider_would_have_cached(tmp_path, sim_url, gateway_url):
    """Trimming a history the provider had cached saves its cached price, not its full price: the gateway's
    baseline (the conversation as asked) matches what a provider that caches prefixes bills for it."""
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "trim.yaml").write_text(TRIM_POLICY)
    gateway = await gateway_url(await sim_url(), f"policies:\n  paths: [{policies}]\n  default: trim\n", policy=None)
    direct = await sim_url()  # its own prompt cache: the world where every turn went out as asked
    claimed = measured = saved_on_context = 0.0
    async with openai.AsyncOpenAI(base_url=gateway, api_key="k", max_retries=0) as through, \
            openai.AsyncOpenAI(base_url=direct, api_key="k", max_retries=0) as straight:
        for messages in conversation(6):
            raw = await through.chat.completions.with_raw_response.create(model="gpt-4.1", messages=messages)
            completion = raw.parse().usage.completion_tokens
            claimed += float(raw.headers["x-gateway-baseline-cost-usd"]) - completion * 8.0 / 1e6
            saved_on_context += float(raw.headers["x-gateway-saved-usd"])
            usage = (await straight.chat.completions.create(model="gpt-4.1", messages=messages)).usage
            cached = usage.prompt_tokens_details.cached_tokens
            assert cached <= usage.prompt_tokens
            measured += ((usage.prompt_tokens - cached) * 2.0 + cached * 0.5) / 1e6
    assert saved_on_context > 0                          # the history was trimmed
    assert abs(claimed / measured - 1) < 0.02, (claimed, measured)
    async with httpx.AsyncClient() as http:
        stats = (await http.get(gateway.removesuffix("/v1") + "/v1/gateway/stats")).json()
    assert stats["total"]["saved_by"]["context"] > 0


def test_an_evicted_model_is_forgotten_whole():
    memory = PrefixMemory(max_entries=2)
    memory.remember("a", [1], 60)
    memory.remember("b", [2, 3], 60)
    assert not memory.knows("a") and memory.knows("b") and memory.longest("b", [2, 3]) == 2
