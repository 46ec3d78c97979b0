"""The verifier rejects look-alike questions that ask something different and lets paraphrases through."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.cache.embedder import EmbedderSettings, load_embedder
from gateway.cache.question import embeddable
from gateway.cache.verifier import Verifier, same_words

HIGH = 0.97  # Above the threshold for every pair: the rejections below must come from the words, not the cosine.


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    return Verifier.load_default()


REJECT = {
    "negation": [("Is ibuprofen safe during pregnancy?", "Is ibuprofen not safe during pregnancy?"),
                 ("Why can't I sleep at night?", "Why can I sleep at night?"),
                 ("Should I use a VPN?", "Should I never use a VPN?")],
    "antonym": [("How do I turn on dark mode in Chrome?", "How do I turn off dark mode in Chrome?"),
                ("How can I increase my credit score?", "How can I decrease my credit score?"),
                ("What should I eat before a workout?", "What should I eat after a workout?"),
                ("How do I enable two factor authentication?", "How do I disable two factor authentication?"),
                ("What is the best programming language?", "What is the worst programming language?"),
                ("How do I find the min of a list?", "How do I find the max of a list?"),
                ("How do I gain weight fast?", "How do I lose weight fast?")],
    "number": [("What is 15% of 200?", "What is 15% of 300?"),
               ("Is 2048 a power of two?", "Is 4096 a power of two?"),
               ("What happened in 1945?", "What happened in 1946?"),
               ("Give me three tips for sleeping", "Give me five tips for sleeping")],
    "name": [("Who is the CEO of Apple?", "Who is the CEO of Google?"),
             ("What is the population of Paris?", "What is the population of London?"),
             ("How tall is Barack Obama?", "How tall is Michelle Obama?")],
    "unit": [("Convert 5 km to miles", "Convert 5 km to meters"),
             ("How much is 100 dollars in rupees?", "How much is 100 euros in rupees?"),
             ("What is 30 celsius in fahrenheit?", "What is 30 celsius in kelvin?")],
    "format": [("List the planets in JSON", "List the planets in a table"),
               ("How do I reverse a string in Python?", "How do I reverse a string in Java?"),
               ("Translate good morning into French", "Translate good morning into Spanish")],
    "question": [("Why did the Roman Empire fall?", "When did the Roman Empire fall?"),
                 ("Who invented the telephone?", "Where was the telephone invented?"),
                 ("How many people live in Tokyo?", "Why do people live in Tokyo?")],
}

ACCEPT = [
    ("How do I learn Python quickly?", "how do i learn python quickly"),  # case, punctuation
    ("What's the capital of France?", "What is the capital of France?"),  # contraction
    ("I can't connect to wifi, what should I do?", "I cannot connect to wifi. What should I do?"),
    ("Is ibuprofen safe during pregnancy?", "During pregnancy, is ibuprofen safe?"),  # word order
    ("How do I turn on dark mode in Chrome?", "How can I turn on the dark mode in Chrome?"),  # stop words
    ("What is the best way to lose weight?", "What's the best way to lose weight?"),
    ("How can I improve my English?", "How do I improve my English?"),
]


@pytest.mark.parametrize("family,query,cached", [(f, a, b) for f, rows in REJECT.items() for a, b in rows])
def test_rejects_pairs_that_ask_something_different(verifier, family, query, cached):
    for a, b in ((query, cached), (cached, query)):  # Symmetric: either side may be the cached one.
        verdict = verifier.check(a, b, HIGH)
        assert not verdict.accepted, (a, b, verdict)
        assert verdict.reason.startswith(family), verdict.reason


@pytest.fixture(scope="module")
def similarity():
    """Cosine from the default local model, so paraphrases are judged at the similarity they really get."""
    model_dir = os.environ.get("GATEWAY_MODEL_DIR")
    if not model_dir or not (Path(model_dir) / "tokenizer.json").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but GATEWAY_MODEL_DIR={model_dir!r} holds no model")
        pytest.skip("GATEWAY_MODEL_DIR not set")
    embedder = load_embedder(EmbedderSettings(kind="local", model_dir=model_dir))
    return lambda a, b: float(embedder.embed_sync([a, b]).prod(axis=0).sum())


@pytest.mark.parametrize("query,cached", ACCEPT)
def test_accepts_paraphrases_at_their_real_similarity(verifier, similarity, query, cached):
    score = similarity(query, cached)
    for a, b in ((query, cached), (cached, query)):
        verdict = verifier.check(a, b, score)
        assert verdict.accepted, (a, b, verdict)


@pytest.mark.parametrize("query,cached", [p for p in ACCEPT if same_words(*p)])
def test_same_question_rewritten_passes_at_any_similarity_over_the_threshold(verifier, query, cached):
    assert verifier.check(query, cached, verifier.threshold).accepted
    assert verifier.check(cached, query, HIGH).accepted


def test_below_threshold_is_rejected_whatever_the_words(verifier):
    verdict = verifier.check("How do I learn Python?", "How do I learn Python?", verifier.threshold - 0.01)
    assert (verdict.accepted, verdict.family) == (False, "threshold") and "below threshold" in verdict.reason
    assert 0.8 <= verifier.threshold <= 0.97


def test_rules_alone_without_the_model():
    rules_only = Verifier(threshold=0.9)
    assert rules_only.check("How do I learn Go?", "How do I learn Go?", 0.95).accepted
    assert not rules_only.check("What is 2+2?", "What is 2+3?", 0.99).accepted


@pytest.mark.parametrize("text", ["", "   ", "hi", "Hi!", "continue", "go on", "thanks", "Thank you!", "yes", "ok",
                                  "?", "...", "ok thanks"])
def test_boilerplate_is_not_embeddable(text):
    assert not embeddable(text)


@pytest.mark.parametrize("text", ["What is RAG?", "How do I sort a list in Python?", "Explain TCP", "why?? explain"])
def test_questions_are_embeddable(text):
    assert embeddable(text)
