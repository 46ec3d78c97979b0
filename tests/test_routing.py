"""The quality router: shipped parameters, the knob's guarantees, and the routing evaluation end to end.

The evaluation tests write their own tiny data folder (a routing file, a replay file, a price table), so they run
without ../shared.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gateway.routing import Candidate, QualityRouter, allowed_loss, cheapest_adequate, reference_cost
from gateway.routing.quality import PARAMS_FILE

REPO = Path(__file__).resolve().parent.parent
CANDIDATES = [Candidate("gpt-4o", "premium", 10.0), Candidate("gpt-4.1-mini", "standard", 1.6),
              Candidate("mixtral-8x7b-instruct", "economy", 0.6), Candidate("gpt-4o-mini", "economy", 0.6),
              Candidate("gpt-4.1-nano", "economy", 0.4)]
PROMPTS = ["What is the capital of France?",
           "Prove that there are infinitely many primes p with p = 3 mod 4, then derive a bound on the n-th such "
           "prime. Show every step of the argument and justify each inequality.",
           "Write a haiku about autumn leaves.",
           "def f(x):\n    return x ** 2\n\nWhy does this Python function fail for strings? Fix the bug.",
           "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many "
           "clips did Natalia sell altogether in April and May?"]


@pytest.fixture(scope="module")
def router() -> QualityRouter:
    return QualityRouter.load_default("words")  # these tests pin the word router; see test_routing_embedding.py


def test_shipped_parameters_load_offline_and_are_small(router):
    path = REPO / "gateway" / "routing" / PARAMS_FILE
    assert path.stat().st_size < 2 * 1024 * 1024
    assert router.words and router.abilities and set(router.tiers) == {"economy", "standard", "premium"}
    assert router.ability("gpt-4-1106-preview") == float("inf")


def test_inference_scores_prompts_exactly_as_training_does(router):
    from gateway.routing.features import extract, stat_vector, word_scale
    stats = router.params["stats"]
    for prompt in PROMPTS:
        f = extract(prompt)
        words = sum(router.words.get(w, 0.0) for w in f.words) * word_scale(f)
        design = stat_vector(f.stats, np.array(stats["mean"]), np.array(stats["std"]), stats["interactions"])
        assert router.need(prompt) == pytest.approx(words + float(design @ np.array(stats["weights"])), abs=1e-9)


def test_lbfgs_finds_a_least_squares_optimum():
    from gateway.routing.train import lbfgs
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(50, 5)), rng.normal(size=50)
    theta = lbfgs(lambda t: (float(0.5 * np.sum((a @ t - b) ** 2)), a.T @ (a @ t - b)), np.zeros(5), 200)
    assert np.allclose(theta, np.linalg.lstsq(a, b, rcond=None)[0], atol=1e-5)


def test_risk_zero_keeps_the_premium_and_risk_one_takes_the_cheapest(router):
    for prompt in PROMPTS:
        assert router.choose(prompt, CANDIDATES, "gpt-4o", 0.0).model == "gpt-4o"
        assert router.choose(prompt, CANDIDATES, "gpt-4o", 1.0).model == "gpt-4.1-nano"


def assert_more_risk_never_pricier(router, prompts, candidates, seed: int, trials: int, steps: int) -> None:
    """The knob is monotone: over random prices, premiums and references (none: the flat allowance), a higher
    quality_risk never picks a pricier model."""
    rng = random.Random(seed)
    for prompt in prompts:
        for _ in range(trials):
            cands = [Candidate(c.name, c.tier, rng.uniform(0.1, 10.0)) for c in candidates]
            premium, reference = rng.choice(cands).name, rng.choice([None, rng.uniform(0.5, 20.0)])
            prices = [router.choose(prompt, cands, premium, r, reference).price for r in np.linspace(0, 1, steps)]
            assert all(b <= a for a, b in zip(prices, prices[1:])), (prompt, cands, premium, reference, prices)


def test_more_risk_never_picks_a_pricier_model(router):
    assert_more_risk_never_pricier(router, PROMPTS, CANDIDATES, seed=7, trials=20, steps=41)


def test_hard_math_proof_is_harder_than_a_capital_question(router):
    assert router.difficulty(PROMPTS[1]) > router.difficulty(PROMPTS[0])
    assert 0.0 < router.difficulty(PROMPTS[0]) < 1.0


def test_adequacy_is_relative_to_the_premium(router):
    prompt = PROMPTS[1]
    assert router.adequacy(prompt, "gpt-4-1106-preview") == 1.0
    weak, strong = router.adequacy(prompt, "mistral-7b-instruct-v0.1"), router.adequacy(prompt, "gpt-4-0314")
    assert 0.0 < weak < strong < 1.0
    # Against a weaker requested model the same candidate keeps more of that model's quality.
    assert router.adequacy(prompt, "mistral-7b-instruct-v0.1", premium="gpt-3.5-turbo-1106") > weak
    # Unknown models fall back to their tier.
    assert router.ability("some-new-model", "economy") == router.tiers["economy"]


def test_choice_explains_itself(router):
    choice = router.choose(PROMPTS[0], CANDIDATES, "gpt-4o", 0.3)
    assert choice.reasons[0].startswith("difficulty ")
    assert any("adequacy" in reason or "keeping" in reason for reason in choice.reasons[1:])
    assert choice.routed == (choice.model != "gpt-4o")
    premium_kept = router.choose(PROMPTS[1], CANDIDATES, "gpt-4o", 0.0)
    assert "as asked" in premium_kept.reasons[-1]


def test_choose_handles_a_long_prompt(router):
    long_prompt = ("The contract below sets out the obligations of both parties in detail. " * 170
                   + "\nSummarize the termination clauses and list every deadline.")
    assert len(long_prompt) > 8000  # about 2k tokens
    choice = router.choose(long_prompt, CANDIDATES, "gpt-4o", 0.2)
    assert choice.model in {c.name for c in CANDIDATES}


def test_the_evaluation_uses_the_same_rule_as_choose(router):
    names = [(c.name, c.tier) for c in CANDIDATES]
    adequacy = router.adequacy_matrix(PROMPTS, names, "gpt-4o", "premium")
    adequacy[:, 0] = 1.0
    prices = np.tile([c.price for c in CANDIDATES], (len(PROMPTS), 1))
    for risk in (0.05, 0.15, 0.3, 0.6):
        for reference in (None, 2 * CANDIDATES[0].price, CANDIDATES[0].price / 3):
            picks = cheapest_adequate(adequacy, prices, 0, risk, reference)
            assert [CANDIDATES[i].name for i in picks] == [
                router.choose(p, CANDIDATES, "gpt-4o", risk, reference).model for p in PROMPTS]


def test_the_allowance_grows_with_the_saving_up_to_four_references():
    saving = np.array([0.0, 0.5, 1.0, 4.0, 40.0])
    assert allowed_loss(saving, 1.0, 0.2).tolist() == pytest.approx([0.0, 0.125, 0.25, 1.0, 1.0])
    assert allowed_loss(saving, None, 0.2).tolist() == pytest.approx([0.0, 0.25, 0.25, 0.25, 0.25])
    assert np.isinf(allowed_loss(saving, 1.0, 1.0)).all() and not allowed_loss(saving, 1.0, 0.0).any()
    assert reference_cost(2.5, 10.0) == pytest.approx((1000 * 2.5 + 256 * 10.0) / 1e6)


# -- the evaluation script on tiny generated data ---------------------------------------------------------------

PRICES = {"gpt-4-1106-preview": (10, 30), "mixtral-8x7b-instruct-v0.1": (0.7, 0.7), "gpt-3.5-turbo-1106": (1, 2)}


def _data_dir(tmp_path: Path) -> Path:
    (tmp_path / "prices").mkdir(parents=True)
    table = {k: {"model_key": k, "source": "test", "input_token_price": str(i), "output_token_price": str(o)}
             for k, (i, o) in PRICES.items()}
    (tmp_path / "prices" / "pricing_data.json").write_text(json.dumps(table))
    return tmp_path


def _prompt(i: int) -> str:
    return ["What is 2 + {}?", "Name a colour that rhymes with {}.", "Prove a theorem about the number {}, step "
            "by step, with every lemma justified."][i % 3].format(i)


def _run_eval(data_dir: Path, data_file: Path) -> dict:
    env = {**os.environ, "GATEWAY_DATA_DIR": str(data_dir)}
    out = subprocess.run([sys.executable, str(REPO / "bench" / "routing_eval.py"), "--data", str(data_file),
                          "--json"], capture_output=True, text=True, env=env, timeout=120, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_eval_runs_on_a_routing_format_file(tmp_path):
    rng = random.Random(1)
    rows = [{"prompt": _prompt(i), "correct": {"mixtral-8x7b-instruct": rng.random() < 0.6,
                                                "gpt-4-1106-preview": rng.random() < 0.85}} for i in range(60)]
    path = tmp_path / "tiny.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    result = _run_eval(_data_dir(tmp_path / "data"), path)
    for key in ("saving_at_95_pct", "saving_at_90_pct", "random_saving_at_95_pct", "oracle_saving_at_95_pct"):
        assert key in result
    assert result["prompts"] == 60 and result["premium"] == "gpt-4-1106-preview"
    assert result["oracle_saving_at_95_pct"] >= result["random_saving_at_95_pct"]


def test_eval_runs_on_a_replay_format_file(tmp_path):
    rng = random.Random(2)
    models = ["gpt-4-1106-preview", "mistralai/Mixtral-8x7B-Instruct-v0.1", "gpt-3.5-turbo-1106"]
    rows = [{"question_id": i, "prompt": _prompt(i),
             "answers": {m: "word " * rng.randint(20, 300) for m in models},
             "scores": {m: float(rng.randint(5 if m == models[0] else 1, 10)) for m in models}} for i in range(40)]
    path = tmp_path / "tiny-replay.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    result = _run_eval(_data_dir(tmp_path / "data"), path)
    assert result["prompts"] == 40 and len(result["candidates"]) == 2
    assert result["saving_at_95_pct"] is not None and result["oracle_saving_at_95_pct"] is not None
