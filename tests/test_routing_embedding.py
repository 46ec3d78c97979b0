"""The embedding router: shipped parameters, the fallback to the word router, the knob, one embedding per request.

Most tests run the shipped embedding parameters on a stand-in embedder (deterministic unit vectors from a hash),
so they need no model files; the tests that share the real MiniLM model with the semantic cache skip without it.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from gateway.routing import Candidate, QualityRouter
from gateway.routing import quality
from gateway.routing.quality import EMBEDDING_PARAMS_FILE
from tests.test_decision import decide
from tests.test_policy import analysis
from tests.test_routing import assert_more_risk_never_pricier

REPO = Path(__file__).resolve().parent.parent
MODEL_DIR = os.environ.get("GATEWAY_MODEL_DIR")
HAS_MODEL = bool(MODEL_DIR) and (Path(MODEL_DIR or ".") / "tokenizer.json").is_file()
CANDIDATES = [Candidate("gpt-4o", "premium", 10.0), Candidate("gpt-4.1-mini", "standard", 1.6),
              Candidate("mixtral-8x7b-instruct", "economy", 0.6), Candidate("gpt-4.1-nano", "economy", 0.4)]
PROMPTS = ["What is the capital of France?", "Prove that the square root of 2 is irrational, step by step.",
           "Write a haiku about autumn leaves.", "Why does my Python loop never end? while i < 10: print(i)"]


class CountingEmbed:
    """A stand-in embedder: a fixed unit vector per text, and a count of the texts it was asked to embed."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, texts):
        self.calls.append(list(texts))
        rows = [np.random.default_rng(int.from_bytes(hashlib.sha256(t.encode()).digest()[:8], "little"))
                .normal(size=384) for t in texts]
        return np.array([r / np.linalg.norm(r) for r in rows], dtype=np.float32)


@pytest.fixture()
def embed() -> CountingEmbed:
    return CountingEmbed()


@pytest.fixture()
def router(embed) -> QualityRouter:
    return QualityRouter.from_file(str(REPO / "gateway" / "routing" / EMBEDDING_PARAMS_FILE), embed)


def test_shipped_embedding_parameters_are_small_numbers(router):
    path = REPO / "gateway" / "routing" / EMBEDDING_PARAMS_FILE
    assert path.stat().st_size < 1024 * 1024
    assert router.variant == "embedding" and len(router.params["embedding"]["weights"]) == 384
    assert all(isinstance(w, float) for w in router.params["embedding"]["weights"])


def test_embedding_parameters_refuse_to_run_without_an_embedder():
    with pytest.raises(ValueError, match="GATEWAY_MODEL_DIR"):
        QualityRouter.from_file(str(REPO / "gateway" / "routing" / EMBEDDING_PARAMS_FILE))


def test_without_a_model_dir_the_word_router_is_used(monkeypatch):
    monkeypatch.delenv("GATEWAY_MODEL_DIR", raising=False)
    monkeypatch.setattr(quality, "DEFAULT_VARIANT", "embedding")
    assert QualityRouter.load_default().variant == "words"
    with pytest.raises(ValueError, match="GATEWAY_MODEL_DIR"):
        QualityRouter.load_default("embedding")


@pytest.mark.skipif(not HAS_MODEL, reason="GATEWAY_MODEL_DIR holds no MiniLM model")
def test_with_the_model_the_embedding_router_loads_and_scores(monkeypatch):
    monkeypatch.setattr(quality, "DEFAULT_VARIANT", "embedding")
    router = QualityRouter.load_default()
    assert router.variant == "embedding"
    needs = router.needs(PROMPTS)
    assert needs.shape == (len(PROMPTS),) and np.isfinite(needs).all()
    assert router.need(PROMPTS[1]) == pytest.approx(float(needs[1]), abs=1e-4)


def test_more_risk_never_picks_a_pricier_model(router):
    assert_more_risk_never_pricier(router, PROMPTS, CANDIDATES, seed=3, trials=10, steps=21)


def test_choose_and_the_matrix_agree_and_explain(router):
    names = [(c.name, c.tier) for c in CANDIDATES]
    matrix = router.adequacy_matrix(PROMPTS, names, "gpt-4o", "premium")
    for row, prompt in zip(matrix, PROMPTS):
        assert router.adequacies(prompt, names, "gpt-4o", "premium") == pytest.approx(row.tolist(), abs=1e-6)
    choice = router.choose(PROMPTS[0], CANDIDATES, "gpt-4o", 0.3)
    assert choice.reasons[0].startswith("difficulty ")


def test_each_prompt_is_embedded_once(router, embed):
    router.choose(PROMPTS[1], CANDIDATES, "gpt-4o", 0.2)
    router.adequacies(PROMPTS[2], [(c.name, c.tier) for c in CANDIDATES], "gpt-4o")
    assert embed.calls == [[PROMPTS[1]], [PROMPTS[2]]]


def test_a_decision_embeds_the_question_once(router, embed):
    a = analysis(text="Explain the difference between TCP and UDP for a video call.")
    decision = decide("defaults: {route: auto, quality_risk: 0.2}", router=router, a=a)
    assert decision.options and embed.calls == [[a.last_user_text]]


@pytest.mark.skipif(not HAS_MODEL, reason="GATEWAY_MODEL_DIR holds no MiniLM model")
async def test_the_semantic_cache_reuses_the_routers_embedding(monkeypatch):
    from gateway.cache.embedder import EmbedderSettings, load_embedder
    from gateway.routing.embedding import load_prompt_embedder
    shared = load_prompt_embedder(MODEL_DIR)
    assert load_embedder(EmbedderSettings(kind="auto", model_dir=MODEL_DIR)) is shared
    runs = []
    original = shared.run
    monkeypatch.setattr(shared, "run", lambda texts: runs.append(texts) or original(texts))
    question = "How many moons does Jupiter have, roughly? (embedding-once test)"
    QualityRouter(QualityRouter.load_default("embedding").params, shared.embed_waiting).need(question)
    await shared.embed([question])  # the semantic cache's lookup of the same question
    assert runs == [[question]]


@pytest.mark.skipif(not HAS_MODEL, reason="GATEWAY_MODEL_DIR holds no MiniLM model")
async def test_prefetch_runs_the_model_off_the_event_loop_and_the_decision_reuses_it(monkeypatch):
    import threading
    from gateway.routing.embedding import load_prompt_embedder
    shared = load_prompt_embedder(MODEL_DIR)
    threads = []
    original = shared.run
    monkeypatch.setattr(shared, "run", lambda texts: threads.append(threading.current_thread()) or original(texts))
    router = QualityRouter(QualityRouter.load_default("embedding").params, shared.embed_waiting)
    question = "Which sorting algorithm suits nearly sorted data best? (prefetch test)"
    await router.prefetch(question)
    router.need(question)  # the synchronous decision's call: an LRU hit, no second model run
    assert len(threads) == 1 and threads[0] is not threading.main_thread()


@pytest.mark.skipif(not HAS_MODEL, reason="GATEWAY_MODEL_DIR holds no MiniLM model")
def test_gateway_router_words_keeps_the_word_router_even_with_the_model(monkeypatch):
    from gateway.server.state import load_router
    monkeypatch.setenv("GATEWAY_MODEL_DIR", str(MODEL_DIR))
    monkeypatch.setenv("GATEWAY_ROUTER", "words")
    assert load_router().variant == "words"
    monkeypatch.setenv("GATEWAY_ROUTER", "auto")
    assert load_router().variant == "embedding"
