"""Cost and quality of the quality router against always-premium, always-cheapest, random routing and the oracle.

    python bench/routing_eval.py                                  # the 4 dev sets, held-out split, shipped router
    python bench/routing_eval.py --plot docs/routing_curve.png    # also draw the cost-vs-quality curves
    python bench/routing_eval.py --data FILE --json               # any routing- or replay-format file, every row
    python bench/routing_eval.py --router words|embedding         # a given variant (default: the one in use)

Without --data it evaluates only the held-out split of each dev set (sha256(prompt) bucket < 30 of 100), which
the shipped parameters never saw. A --data file is evaluated whole unless --split says otherwise. Prices come from
$GATEWAY_DATA_DIR/prices/pricing_data.json (see gateway/routing/prices.py); definitions of every baseline are in
gateway/routing/evaluation.py. With --json the last line is one JSON object with the headline figures.

The router in use is the embedding router when DEFAULT_VARIANT says so and $GATEWAY_MODEL_DIR holds the model,
else the word router; the embedding router reads its prompt vectors through the /tmp cache of
bench/_prompt_vectors.py (the same model and text cut as serving, computed once).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "tiktoken-cache"))

import numpy as np  # noqa: E402

from gateway.routing.data import DEV_SETS, TEST_PERCENT, data_dir, is_test, load_set  # noqa: E402
from gateway.routing.evaluation import (Curve, Problem, bootstrap, oracle_curve, random_curve,  # noqa: E402
                                        router_curve, same_mix_curve, summarize)
from gateway.routing.quality import QualityRouter, VARIANT_FILES  # noqa: E402
from gateway.routing.tuning import problem_for, router_adequacy  # noqa: E402

HEADLINE = ("saving_at_95_pct", "saving_at_90_pct", "random_saving_at_95_pct", "oracle_saving_at_95_pct")
SHOWN_RISKS = (0.05, 0.1, 0.2, 0.3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", action="append", type=Path, help="a routing- or replay-format file (repeatable)")
    parser.add_argument("--split", choices=("test", "train", "all"), help="rows to evaluate (default: test for the "
                        "dev sets, all for --data)")
    parser.add_argument("--router", choices=("auto", "words", "embedding"), default="auto",
                        help="router variant (auto: the one the gateway would use here)")
    parser.add_argument("--params", help="router parameter file (default: the variant's file shipped in the "
                        "package; a file with an `embedding` section is the embedding router)")
    parser.add_argument("--answer-tokens", type=int, help="answer length when a file records no answers")
    parser.add_argument("--plot", type=Path, help="write the cost-vs-quality curves to this PNG")
    parser.add_argument("--json", action="store_true", help="print the headline figures as JSON on the last line")
    parser.add_argument("--speed", action="store_true", help="only time loading, difficulty and choose")
    parser.add_argument("--bootstrap", type=int, default=0, metavar="N",
                        help="add 90%% intervals from N resamples of the prompts")
    args = parser.parse_args(argv)
    if args.speed:
        print(_speed(args.router))
        return 0

    root = data_dir()
    files = args.data or [root / path for path in DEV_SETS.values()]
    split = args.split or ("all" if args.data else "test")
    router = load_router(args.router, args.params)
    results: dict[str, dict] = {}
    curves: dict[str, tuple[Problem, Curve]] = {}
    for path in files:
        labelled = load_set(path)
        if split != "all":
            labelled = labelled.subset(is_test(labelled.prompts) == (split == "test"))
        problem = problem_for(labelled, root, args.answer_tokens)
        adequacy = router_adequacy(router, problem)
        curve = router_curve(problem, adequacy)
        name = _unique(labelled.name, results)
        results[name] = {**summarize(problem, curve), "points": _points(problem, curve)}
        if args.bootstrap:
            results[name].update(bootstrap(problem, adequacy, args.bootstrap))
        curves[name] = (problem, curve)

    split_note = {"test": f"held-out split (sha256(prompt) bucket < {TEST_PERCENT} of 100)",
                  "train": "training split", "all": "all rows"}[split]
    print(f"Routing evaluation of the {router.variant} router on the {split_note}; quality and cost relative to "
          "always-premium.\n")
    print(_table(results))
    print("\nThe knob: router operating points (saving % / quality % of premium / share of prompts routed away)\n")
    print(_points_table(results))
    if args.bootstrap:
        print(f"\n90% intervals over {args.bootstrap} resamples of the prompts (router saving @95%; router minus "
              "random @95%)\n\n| set | saving @95% | margin over random @95% |\n|---|---|---|")
        for name, r in results.items():
            print(f"| {name} | {r['saving_at_95_pct_90ci']} | {r['margin_over_random_at_95_pct_90ci']} |")
    if args.plot:
        print(f"\n{_plot(curves, args.plot, f'{router.variant} router, {split_note}')}")
    if args.json:
        print(json.dumps({"router": router.variant, **_json(results, split)}))
    return 0


def load_router(variant: str, params: str | None) -> QualityRouter:
    """The variant asked for (auto: the one `load_default` picks here); the embedding router embeds through the
    cached prompt vectors, so repeated evaluations do not run the model again."""
    if params is None:
        variant = QualityRouter.load_default(variant).variant  # checks that the model loads when it is needed
        path = Path(__file__).resolve().parent.parent / "gateway" / "routing" / VARIANT_FILES[variant]
    else:
        path = Path(params)
    needs_embedder = b'"embedding"' in path.read_bytes()
    if not needs_embedder:
        return QualityRouter.from_file(str(path))
    from _prompt_vectors import default_store
    return QualityRouter.from_file(str(path), default_store().get)


def _speed(variant: str) -> str:
    """Median wall time of the router's calls on a ~2k-token prompt (and a short one); the embedding router is
    timed with a fresh prompt on every call (the embedder's LRU would otherwise answer)."""
    import itertools
    import random
    import time
    from gateway.accounting.tokens import counter_for_model
    from gateway.routing import Candidate

    started = time.perf_counter()
    router = QualityRouter.load_default(variant)
    load_ms = 1000 * (time.perf_counter() - started)
    fresh = itertools.count() if router.variant == "embedding" else itertools.repeat(None)
    repeats = 20 if router.variant == "embedding" else 200
    # ~2k tokens of distinct words the word router knows (the worst case for its word lookup), as sentences.
    words_router = router if router.variant == "words" else QualityRouter.load_default("words")
    vocabulary = sorted(w.decode() for w in words_router.words if w.isalpha())
    words = random.Random(0).choices(vocabulary, k=1500)
    long_prompt = ". ".join(" ".join(words[i:i + 15]) for i in range(0, len(words), 15)) + "?"
    candidates = [Candidate("gpt-4o", "premium", 10.0), Candidate("gpt-4.1-mini", "standard", 1.6),
                  Candidate("gpt-4o-mini", "economy", 0.6)]
    lines = [f"{router.variant} router, load_default: {load_ms:.1f} ms"]
    for label, prompt in (("~2k-token prompt", long_prompt), ("short prompt", "What is the capital of France?")):
        tokens = counter_for_model("gpt-4o").count(prompt)
        for name, call in (("difficulty", lambda: router.difficulty(_varied(prompt, next(fresh)))),
                           ("choose (3 candidates)",
                            lambda: router.choose(_varied(prompt, next(fresh)), candidates, "gpt-4o", 0.2))):
            times = []
            for _ in range(7):
                started = time.perf_counter()
                for _ in range(repeats):
                    call()
                times.append((time.perf_counter() - started) / repeats)
            lines.append(f"{name} on a {label} ({tokens} tokens): {1e6 * sorted(times)[3]:.0f} us")
    return "\n".join(lines)


def _varied(prompt: str, n: int | None) -> str:
    """The prompt with a number in front (a new text for the embedder's LRU), or as it is."""
    return prompt if n is None else f"{n}. {prompt}"


def _unique(name: str, taken: dict) -> str:
    return name if name not in taken else f"{name}-{len(taken)}"


def _points(problem: Problem, curve: Curve) -> list[dict]:
    premium_cost = problem.cost[:, problem.premium].mean()
    premium_quality = problem.quality[:, problem.premium].mean()
    premium = problem.models[problem.premium]
    rows = []
    for risk in SHOWN_RISKS:
        i = int(np.argmin(np.abs(curve.knob - risk)))
        rows.append({"quality_risk": risk, "saving_pct": round(100 * (1 - curve.cost[i] / premium_cost), 1),
                     "quality_pct": round(100 * curve.quality[i] / premium_quality, 1),
                     "routed_pct": round(100 * (1 - curve.shares[i].get(premium, 0.0)), 1)})
    return rows


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}%"


def _table(results: dict[str, dict]) -> str:
    lines = ["| set | prompts | candidates | router saving @95% | router saving @90% | random @95% | "
             "random, same mix @95% | oracle @95% | oracle matching premium (saving, quality) | "
             "always cheapest (saving, quality) | quality_risk at 95% |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['prompts']} | {len(r['candidates'])} | **{_fmt(r['saving_at_95_pct'])}** | "
            f"{_fmt(r['saving_at_90_pct'])} | {_fmt(r['random_saving_at_95_pct'])} | "
            f"{_fmt(r['random_same_mix_saving_at_95_pct'])} | {_fmt(r['oracle_saving_at_95_pct'])} | "
            f"{_fmt(r['oracle_match_saving_pct'])}, {_fmt(r['oracle_match_quality_pct'])} | "
            f"{_fmt(r['cheapest_saving_pct'])}, {_fmt(r['cheapest_quality_pct'])} ({r['cheapest_model']}) | "
            f"{r['quality_risk_at_95_pct'] if r['quality_risk_at_95_pct'] is not None else 'n/a'} |")
    return "\n".join(lines)


def _points_table(results: dict[str, dict]) -> str:
    lines = ["| set | " + " | ".join(f"risk {r}" for r in SHOWN_RISKS) + " |",
             "|---|" + "---|" * len(SHOWN_RISKS)]
    for name, r in results.items():
        cells = [f"{p['saving_pct']} / {p['quality_pct']} / {p['routed_pct']}" for p in r["points"]]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _json(results: dict[str, dict], split: str) -> dict:
    out: dict = {"split": split, "sets": results}
    if len(results) == 1:
        out.update({k: v for k, v in next(iter(results.values())).items() if k != "points"})
    else:
        for key in HEADLINE:
            values = [r[key] for r in results.values() if r[key] is not None]
            out[key] = round(float(np.mean(values)), 1) if values else None
        out["overall"] = "unweighted mean over the sets"
    return out


def _plot(curves: dict[str, tuple[Problem, Curve]], path: Path, split_note: str) -> str:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib); no plot written"
    cols = min(len(curves), 2)
    rows = (len(curves) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.9 * rows), squeeze=False)
    for ax, (name, (problem, curve)) in zip(axes.flat, curves.items()):
        pc, pq = problem.cost[:, problem.premium].mean(), problem.quality[:, problem.premium].mean()
        for label, c, style in (("router", curve, "-"), ("random (best fixed mix)", random_curve(problem), "--"),
                                ("random, same mix", same_mix_curve(problem, curve), ":"),
                                ("oracle", oracle_curve(problem), "-.")):
            order = np.argsort(c.cost)
            ax.plot(100 * c.cost[order] / pc, 100 * c.quality[order] / pq, style, label=label, linewidth=1.6)
        ax.axhline(95, color="grey", linewidth=0.6)
        ax.scatter([100], [100], marker="*", s=90, color="black", zorder=5, label="always premium")
        ax.set_title(f"{name} ({len(problem.labelled.prompts)} prompts)", fontsize=10)
        ax.set_xlabel("cost, % of always-premium")
        ax.set_ylabel("quality, % of always-premium")
        ax.set_xlim(0, 105)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(curves):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"Quality router vs baselines ({split_note})", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)"


if __name__ == "__main__":
    sys.exit(main())
