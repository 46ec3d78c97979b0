"""Embedders: the real MiniLM ONNX model when $GATEWAY_MODEL_DIR is set, the hashing fallback, an upstream API."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from aiohttp import web

from gateway.cache.embedder import (
    EmbedderSettings,
    HashingEmbedder,
    OnnxEmbedder,
    UpstreamEmbedder,
    load_embedder,
)

MODEL_DIR = os.environ.get("GATEWAY_MODEL_DIR")
PARAPHRASES = ("How do I learn Python quickly?", "What is the fastest way to learn Python?")
UNRELATED = "What is the capital city of Australia?"


def _model_dir() -> str:
    """The model folder; in CI its absence is a failure, elsewhere a skip."""
    if MODEL_DIR and (Path(MODEL_DIR) / "tokenizer.json").is_file():
        return MODEL_DIR
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but GATEWAY_MODEL_DIR={MODEL_DIR!r} holds no model")
    pytest.skip("GATEWAY_MODEL_DIR not set; the ONNX model tests need the MiniLM folder")


@pytest.fixture(scope="module")
def onnx_embedder() -> OnnxEmbedder:
    return load_embedder(EmbedderSettings(kind="local", model_dir=_model_dir()))


async def test_onnx_vectors_are_normalised_and_paraphrases_score_higher(onnx_embedder):
    vectors = await onnx_embedder.embed([*PARAPHRASES, UNRELATED])
    assert vectors.dtype == np.float32 and vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    paraphrase, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert paraphrase > 0.75 and unrelated < 0.3
    desc = onnx_embedder.describe()
    assert desc["kind"] == "local" and desc["dim"] == 384 and desc["variant"] == "fp32"


async def test_onnx_batch_matches_single_and_cache_returns_same_vector(onnx_embedder):
    batch = await onnx_embedder.embed([PARAPHRASES[0], UNRELATED, "a much longer question " * 20])
    alone = await onnx_embedder.embed([UNRELATED])
    assert np.allclose(batch[1], alone[0], atol=1e-4)  # Padding in the batch must not change the vector.
    fresh = OnnxEmbedder(onnx_embedder.model_dir, "fp32", cache_size=2)
    first = fresh.embed_sync(["alpha question", "beta question", "alpha question"])
    assert np.array_equal(first[0], first[2])  # One model run for a text repeated inside a batch.
    assert fresh._cache.get(fresh._cache.key("alpha question")) is not None  # A hit also refreshes it.
    fresh.embed_sync(["gamma question"])  # Size 2: the least recently used entry (beta) goes.
    assert fresh._cache.get(fresh._cache.key("beta question")) is None
    assert fresh._cache.get(fresh._cache.key("alpha question")) is not None
    assert np.allclose(fresh.embed_sync(["alpha question"])[0], first[0], atol=1e-6)


async def test_concurrent_embeds_each_get_their_own_vectors(onnx_embedder):
    import asyncio

    texts = [f"question number {i} about the weather in city {i}" for i in range(8)]
    together = await asyncio.gather(*(onnx_embedder.embed([t]) for t in texts))
    alone = onnx_embedder.embed_sync(texts)
    assert np.allclose(np.vstack(together), alone, atol=1e-4)


def test_fp32_and_int8_agree(onnx_embedder):
    int8 = OnnxEmbedder(onnx_embedder.model_dir, "int8", cache_size=0)
    assert int8.name.endswith(":int8")
    a, b = int8.embed_sync(PARAPHRASES), onnx_embedder.embed_sync(PARAPHRASES)
    assert float(np.min(np.sum(a * b, axis=1))) > 0.95


def test_local_kind_with_missing_model_names_the_path(tmp_path):
    with pytest.raises(ValueError, match=str(tmp_path / "nowhere")):
        load_embedder(EmbedderSettings(kind="local", model_dir=str(tmp_path / "nowhere")))


async def test_auto_without_model_falls_back_to_hashing_and_says_why():
    embedder = load_embedder(EmbedderSettings(), environ={})
    assert isinstance(embedder, HashingEmbedder)
    desc = embedder.describe()
    assert desc["kind"] == "hashing" and desc["fallback"] is True and "GATEWAY_MODEL_DIR" in desc["reason"]
    vectors = await embedder.embed([*PARAPHRASES, UNRELATED, ""])
    assert vectors.shape == (4, embedder.dim)
    assert np.allclose(np.linalg.norm(vectors[:3], axis=1), 1.0, atol=1e-5)
    assert not np.any(np.isnan(vectors[3]))
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])


def test_auto_with_a_broken_model_dir_falls_back(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{}")
    embedder = load_embedder(EmbedderSettings(model_dir=str(tmp_path)))
    assert isinstance(embedder, HashingEmbedder) and "did not load" in str(embedder.describe()["reason"])


def test_settings_never_show_the_api_key():
    assert "sk-secret" not in repr(EmbedderSettings(kind="upstream", upstream_api_key="sk-secret"))


async def test_upstream_embedder_against_a_real_server(aiohttp_server):
    seen: list[dict] = []

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        seen.append({"auth": request.headers.get("authorization"), **body})
        rows = [{"object": "embedding", "index": i, "embedding": [3.0 * (i + 1), 4.0, 0.0]}
                for i, _ in enumerate(body["input"])]
        return web.json_response({"object": "list", "data": rows[::-1], "model": body["model"]})

    app = web.Application()
    app.router.add_post("/v1/embeddings", embeddings)
    server = await aiohttp_server(app)
    embedder = load_embedder(EmbedderSettings(kind="upstream", upstream_model="text-embedding-3-small",
                                              upstream_base_url=str(server.make_url("/v1")),
                                              upstream_api_key="sk-test"))
    assert isinstance(embedder, UpstreamEmbedder)
    vectors = await embedder.embed(["one", "two"])
    await embedder.aclose()
    assert np.allclose(vectors[0], [0.6, 0.8, 0.0]) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0)
    assert vectors[1][0] > vectors[0][0]  # Rows come back in input order even when the server reorders them.
    assert seen == [{"auth": "Bearer sk-test", "model": "text-embedding-3-small", "input": ["one", "two"]}]
    assert embedder.dim == 3 and embedder.describe()["kind"] == "upstream"
    assert "sk-test" not in str(embedder.describe())


def test_upstream_needs_url_and_model():
    with pytest.raises(ValueError, match="upstream_base_url"):
        load_embedder(EmbedderSettings(kind="upstream"))
