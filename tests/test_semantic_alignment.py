"""The alignment verifier: token states from the real MiniLM model, stored compactly, read word by word."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from gateway.cache.alignment import AlignmentModel, load_default
from gateway.cache.answer import CachedAnswer, new_answer
from gateway.cache.embedder import OnnxEmbedder
from gateway.cache.memory import ByteLRU
from gateway.cache.redis_link import RedisLink
from gateway.cache.semantic import SemanticCache
from gateway.cache.token_states import TokenStates
from gateway.cache.verifier import Verifier


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    model_dir = os.environ.get("GATEWAY_MODEL_DIR")
    if not model_dir or not (Path(model_dir) / "tokenizer.json").is_file():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but GATEWAY_MODEL_DIR={model_dir!r} holds no model")
        pytest.skip("GATEWAY_MODEL_DIR not set")
    return OnnxEmbedder(model_dir, variant="fp32")


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    verifier = Verifier.load_default()
    assert verifier.alignment is not None, "gateway/cache/alignment_params.npz is missing from the package"
    return verifier


def pair(embedder: OnnxEmbedder, a: str, b: str) -> tuple[float, tuple[np.ndarray, np.ndarray]]:
    """The similarity and both token matrices, as the semantic cache hands them to the verifier."""
    first, second = embedder.embedded_sync([a, b])
    return float(first.vector @ second.vector), (first.tokens.values(), second.tokens.values())


def test_token_states_survive_storage_and_stay_close_to_the_model_output(embedder):
    found = embedder.run(["How do I reset my router's admin password?"])[0]
    restored = TokenStates.from_bytes(found.tokens.to_bytes())
    assert restored is not None and restored.codes.shape == found.tokens.codes.shape
    values = restored.values()
    pooled = values.mean(axis=0) / np.linalg.norm(values.mean(axis=0))
    assert float(pooled @ found.vector) > 0.999  # quantization keeps what the verifier reads
    assert len(found.tokens.to_bytes()) < values.size * 4 / 3  # int8, not float32


@pytest.mark.parametrize("blob", [b"", b"\x01", TokenStates.quantize(np.ones((3, 8))).to_bytes()[:-1]])
def test_a_damaged_blob_is_not_read_as_token_states(blob):
    assert TokenStates.from_bytes(blob) is None


def test_the_parameters_round_trip_and_the_model_is_symmetric(embedder, verifier):
    model = verifier.alignment
    again = AlignmentModel.from_arrays(model.to_arrays())
    query, cached = "What is the best way to learn guitar?", "How should I start learning guitar?"
    similarity, (a, b) = pair(embedder, query, cached)
    words = verifier.lexical(query, cached)
    assert len(words) == model.lexical_inputs and words == verifier.lexical(cached, query)
    p = model.probability(a, b, similarity, words)
    assert 0.0 < p < 1.0
    assert model.probability(b, a, similarity, words) == pytest.approx(p, abs=1e-6)
    assert again.probability(a, b, similarity, words) == pytest.approx(p, abs=1e-3)  # stored as float16
    assert load_default() is load_default()  # loaded once per process


@pytest.mark.parametrize("query,cached", [
    ("How can I improve my English speaking skills?", "How do I improve my spoken English?"),
    ("What are good ways to learn a new language quickly?", "What are the best ways to learn a new language fast?"),
])
def test_paraphrases_are_accepted_by_the_alignment_model(embedder, verifier, query, cached):
    similarity, tokens = pair(embedder, query, cached)
    verdict = verifier.check(query, cached, similarity, tokens)
    assert verdict.accepted and "aligned" in verdict.reason, verdict


@pytest.mark.parametrize("query,cached", [
    ("How do I learn to play the guitar?", "How do I learn to play the piano?"),
    ("What are the symptoms of diabetes?", "What are the causes of diabetes?"),
])
def test_look_alikes_no_rule_names_are_rejected_by_the_alignment_model(embedder, verifier, query, cached):
    similarity, tokens = pair(embedder, query, cached)
    assert similarity >= verifier.search_threshold(True)  # close enough that the verifier has to decide
    verdict = verifier.check(query, cached, similarity, tokens)
    assert (verdict.accepted, verdict.family) == (False, "model") and verdict.reason.startswith("alignment"), verdict


def test_without_token_states_the_logistic_model_and_its_threshold_decide(embedder, verifier):
    query, cached = "How can I improve my English speaking skills?", "How do I improve my spoken English?"
    similarity, _ = pair(embedder, query, cached)
    verdict = verifier.check(query, cached, similarity)
    assert "aligned" not in verdict.reason
    assert verifier.search_threshold(False) == verifier.threshold > verifier.search_threshold(True)


class RecordingVerifier(Verifier):
    """The shipped verifier, noting whether each check had both questions' token states."""

    def __init__(self) -> None:
        shipped = Verifier.load_default()
        super().__init__(shipped.threshold, shipped.model, shipped.rules, shipped.alignment)
        self.had_tokens: list[bool] = []

    def check(self, query, cached, similarity, tokens=None):
        self.had_tokens.append(tokens is not None)
        return super().check(query, cached, similarity, tokens)


async def store_from_another_replica(embedder, writer_redis: RedisLink, prefix: str, question: str,
                                    content: str) -> CachedAnswer:
    """One replica stores an entry (answer and token states go to Redis); returns the answer it stored."""
    writer = SemanticCache(embedder, Verifier.load_default(), writer_redis, ByteLRU(1 << 20), prefix)
    found = await embedder.embedded(question)
    answer = new_answer({"choices": [{"message": {"role": "assistant", "content": content}}]}, "m")
    writer.store("ns", question, found.vector, answer, 60, found.tokens)
    await writer_redis.drain()
    return answer


async def test_another_replica_verifies_with_the_token_states_stored_in_redis(embedder, redis_url, redis_prefix):
    writer_redis, reader_redis = RedisLink(redis_url, timeout_s=2.0), RedisLink(redis_url, timeout_s=2.0)
    verifier = RecordingVerifier()
    reader = SemanticCache(embedder, verifier, reader_redis, ByteLRU(1 << 20), redis_prefix)
    try:
        answer = await store_from_another_replica(embedder, writer_redis, redis_prefix,
                                                  "What are good ways to learn a new language quickly?",
                                                  "Practise daily.")
        assert await reader.sync() == 1  # the reader has the vector and question, not the answer or the tokens
        found = await reader.lookup("ns", "What are the best ways to learn a new language fast?")
        assert found.hit is not None and found.hit.answer.completion == answer.completion
        assert verifier.had_tokens == [True]
        assert reader.threshold == verifier.search_threshold(True) and reader.verifier_kind == "alignment"
    finally:
        await writer_redis.close()
        await reader_redis.close()


class CountingRedisLink(RedisLink):
    """The real link, counting the round trips it makes."""

    def __init__(self, url: str) -> None:
        super().__init__(url, timeout_s=2.0)
        self.calls = 0

    async def call(self, operation, timeout_s=None, idempotent=True):
        self.calls += 1
        return await super().call(operation, timeout_s, idempotent)


async def test_a_look_alike_the_rules_reject_costs_no_redis_round_trip(embedder, redis_url, redis_prefix):
    writer_redis, reader_redis = RedisLink(redis_url, timeout_s=2.0), CountingRedisLink(redis_url)
    reader = SemanticCache(embedder, Verifier.load_default(), reader_redis, ByteLRU(1 << 20), redis_prefix)
    try:
        await store_from_another_replica(embedder, writer_redis, redis_prefix, "How do I gain weight quickly?",
                                         "Eat more.")
        assert await reader.sync() == 1  # the answer and token states stay in Redis
        before = reader_redis.calls
        found = await reader.lookup("ns", "How do I lose weight quickly?")
        assert found.hit is None and found.rejected and found.rejected[0].startswith("antonym")
        assert reader_redis.calls == before  # rejected on the two questions alone, before any fetch
        await reader.lookup("ns", "What is the fastest way to gain weight?")
        assert reader_redis.calls == before + 1  # a candidate the rules pass is fetched: one MGET
    finally:
        await writer_redis.close()
        await reader_redis.close()
