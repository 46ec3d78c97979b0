"""Token counting (offline, with fallbacks that say they are approximate) and pricing, cached input included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.accounting.cost import Usage, cost_usd, format_usd, usage_from_openai
from gateway.accounting.tokens import (EXACT_CHARS_PER_REQUEST, REPLY_PRIMING_TOKENS, TOKENS_PER_MESSAGE,
                                      counter_for_encoding, encoding_name_for_model)
from gateway.analysis.tokens import count_parts, turn_index
from gateway.config.settings import load_settings


@pytest.mark.parametrize("model, encoding", [("gpt-4o-mini", "o200k_base"), ("openai/gpt-4.1", "o200k_base"),
                                             ("o3-mini", "o200k_base"), ("gpt-4-1106-preview", "cl100k_base"),
                                             ("gpt-3.5-turbo", "cl100k_base"), ("mixtral-8x7b", "cl100k_base")])
def test_encoding_by_model(model, encoding):
    assert encoding_name_for_model(model) == encoding


def test_chat_framing_matches_openai_cookbook():
    # The chat API bills 3 tokens of markup per message and primes the reply with 3 more.
    counter = counter_for_encoding("o200k_base")
    messages = [{"role": "system", "content": "You are a helpful assistant."},
                {"role": "user", "content": "Hello!"}]
    body = sum(counter.count(m["role"]) + counter.count(m["content"]) for m in messages)
    assert counter.count_messages(messages) == body + 3 * len(messages) + 3


def _count_in_fresh_process(env: dict[str, str]) -> str:
    code = ("from gateway.accounting.tokens import counter_for_encoding as c; k = c('o200k_base'); "
            "print(k.source, k.approximate, k.count('Hello world, this is a test.'))")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60).stdout.strip()


def test_offline_fallback_when_tiktoken_cache_is_missing(tmp_path):
    exact = _count_in_fresh_process({**os.environ})
    fallback = _count_in_fresh_process({**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path)})
    assert fallback.split()[:2] == ["bpe-openai", "True"]
    if exact.startswith("tiktoken"):
        assert exact.split()[2] == fallback.split()[2]


def test_cost_uses_cached_input_price():
    spec = load_settings(None, environ={}).find_model("gpt-4o")
    usage = Usage(prompt_tokens=2000, completion_tokens=500, cached_tokens=1024)
    expected = (976 * 2.50 + 1024 * 1.25 + 500 * 10.00) / 1_000_000
    assert cost_usd(spec, usage) == pytest.approx(expected, abs=1e-12)
    assert format_usd(cost_usd(spec, usage)) == "0.00872"
    assert format_usd(0.0) == "0" and format_usd(1e-10) == "0.0000000001"


def test_usage_from_openai_reads_cached_tokens_and_rejects_nonsense():
    usage = usage_from_openai({"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15,
                               "prompt_tokens_details": {"cached_tokens": 4}})
    assert usage == Usage(10, 5, 4)
    assert usage_from_openai({"prompt_tokens": "10"}) is None
    assert usage_from_openai({"prompt_tokens": 3, "completion_tokens": 1,
                              "prompt_tokens_details": {"cached_tokens": 9}}).cached_tokens == 0


def test_long_texts_are_remembered_by_hash_without_confusing_equal_lengths():
    counter = counter_for_encoding("o200k_base")
    spaced, packed = "a b " * 300, "abab" * 300               # same length, very different token counts
    assert len(spaced) == len(packed)
    exact = (counter._encode_len(spaced), counter._encode_len(packed))
    assert exact[0] != exact[1]
    for _ in range(2):                                        # the second pass is answered from the cache
        assert (counter.count(spaced), counter.count(packed)) == exact
    assert counter.count("".join(["a b "] * 300)) == exact[0]  # an equal string built anew hits the cache


def _long_texts(count: int) -> list[str]:
    """Real prose when the data folder is there, else varied synthetic text: longer than a tally's exact budget."""
    data = Path(os.environ.get("GATEWAY_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))
    prompts = data / "prompts" / "sharegpt.jsonl"
    if prompts.is_file():
        texts = [json.loads(line)["prompt"] for line in prompts.open(encoding="utf-8")]
        return [text for text in texts if len(text) > 3 * EXACT_CHARS_PER_REQUEST][:count]
    words = "the gateway prices each option, 42 times: routing, caching; splitting (and context) ".split()
    return [" ".join(words[(i + j) % len(words)] for j in range(1500)) + f" #{i}" for i in range(count)]


def test_a_tally_estimates_unseen_long_text_within_the_measured_bound_then_learns_it_exactly():
    counter = counter_for_encoding("o200k_base")
    if counter._estimator is None:
        pytest.skip("no fitted estimate for this tokenizer")
    texts = [f"{text} (tally test)" for text in _long_texts(20)]
    tally = counter.tally()
    messages = [{"role": "user", "content": text} for text in texts]
    estimated_total = tally.count_messages(messages)
    tally.flush()
    assert tally.estimated > 0.9 * estimated_total  # nearly all of it was long and new
    assert counter.settle(timeout=30)
    exact_total = counter.count_messages(messages)
    bound = json.loads((Path(__file__).resolve().parents[1] / "gateway" / "accounting" / "token_estimate.json")
                       .read_text())["encodings"]["o200k_base"]["error_8k_conversation"]["p95"]
    assert abs(estimated_total / exact_total - 1) <= max(2 * bound, 0.1)
    for text in texts:  # every estimate was followed by an exact count on the backfill thread
        assert abs(tally.count(text) / counter._encode_len(text) - 1) <= tally.error_bound
    again = counter.tally()
    assert again.count_messages(messages) == exact_total and again.estimated == 0


def test_the_batched_estimate_equals_the_one_by_one_estimate():
    estimator = counter_for_encoding("o200k_base")._estimator
    if estimator is None:
        pytest.skip("no fitted estimate for this tokenizer")
    texts = _long_texts(30) + ["Short.", "ein Satz mit Umlauten: äöü, 3 Zahlen 1 2 3", "  a  b\n\n c ", "x" * 5000]
    assert estimator.estimate_many(texts) == [estimator.estimate(text) for text in texts]


def test_a_prepared_tally_counts_parts_as_one_that_counts_message_by_message():
    """`count_parts` prepares its tally (one batched pass); the totals and the estimated share must not change."""
    counter = counter_for_encoding("o200k_base")
    texts = [f"{text} (prepared tally test)" for text in _long_texts(12)]
    messages = [{"role": "system", "content": "Be brief (prepared tally test)."}]
    messages += [{"role": "user" if i % 2 == 0 else "assistant", "content": text} for i, text in enumerate(texts)]
    messages += [{"role": "user", "content": [{"type": "text", "text": texts[0]}]}, {"role": "user", "content": ""}]
    one_by_one = counter.tally()
    expected = [TOKENS_PER_MESSAGE + one_by_one.count_message_body(message) for message in messages]
    prepared = counter.tally()
    parts = count_parts(messages, None, prepared, turn_index(messages))
    assert parts.total == sum(expected) + REPLY_PRIMING_TOKENS
    assert prepared.estimated == one_by_one.estimated > 0
    assert sorted(prepared._to_count) == sorted(one_by_one._to_count)


def test_a_tally_counts_short_new_text_exactly_and_reports_no_estimate():
    counter = counter_for_encoding("o200k_base")
    tally = counter.tally()
    text = "A short question the gateway has not seen before (tally test)?"
    assert tally.count(text) == counter._encode_len(text) and tally.estimated == 0
