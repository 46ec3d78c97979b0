"""Fit the token estimate (`gateway/accounting/token_estimate.json`) and measure its error on held-out real text.

Texts: ShareGPT and MT-Bench user turns, Arena and AlpacaEval prompts and every model's answers (200+ characters:
shorter texts are always counted exactly, see `Tally`). Shuffled with a fixed seed, fitted on one half by least
squares on relative error (so long texts do not dominate), measured on the other half: per text, and per
conversation of ~8k tokens built from held-out texts (what a decision sees). The weights written are the ones
measured.

    python bench/fit_token_estimate.py [--data DIR] [--write]
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np

from _fit import REPO, fit_arguments, write_fit  # first: it puts the repository on the path
from gateway.accounting.token_estimate import FEATURES, features
from gateway.accounting.tokens import counter_for_encoding

OUT = REPO / "gateway" / "accounting" / "token_estimate.json"
MIN_CHARS = 200
CONVERSATION_TOKENS = 8_000


def real_texts(data: Path) -> list[str]:
    """Every real text of 200+ characters in the data folder's prompt and replay sets, shuffled with a fixed seed."""
    texts: list[str] = []
    for name in ("sharegpt.jsonl", "mt_bench.jsonl"):
        path = data / "prompts" / name
        if path.is_file():
            for line in path.open(encoding="utf-8"):
                row = json.loads(line)
                texts.extend(t for t in (row.get("prompt"), *(row.get("turns") or ())) if isinstance(t, str))
    for name, field in (("arena-bench.dev.jsonl", "answers"), ("alpaca-eval.dev.jsonl", "outputs")):
        for line in (data / "replay" / name).open(encoding="utf-8"):
            row = json.loads(line)
            texts.append(row["prompt"])
            texts.extend(a for a in row[field].values() if isinstance(a, str))
    texts = [text for text in texts if len(text) >= MIN_CHARS]
    random.Random(0).shuffle(texts)
    return texts


def errors(relative: np.ndarray) -> dict[str, float]:
    absolute = np.abs(relative)
    return {"mean": round(float(absolute.mean()), 4), "p95": round(float(np.percentile(absolute, 95)), 4),
            "p99": round(float(np.percentile(absolute, 99)), 4), "bias": round(float(relative.mean()), 4),
            "n": int(len(relative))}


def conversation_errors(estimates: np.ndarray, exact: np.ndarray) -> dict[str, float]:
    """Relative error of the summed estimate over consecutive held-out texts adding up to ~8k tokens each."""
    relative, start = [], 0
    cumulative = np.cumsum(exact)
    while start < len(exact):
        end = int(np.searchsorted(cumulative, cumulative[start] - exact[start] + CONVERSATION_TOKENS)) + 1
        if cumulative[min(end, len(exact)) - 1] - cumulative[start] + exact[start] < CONVERSATION_TOKENS:
            break
        relative.append(estimates[start:end].sum() / exact[start:end].sum() - 1)
        start = end
    return errors(np.array(relative))


def fit(encoding: str, texts: list[str]) -> dict:
    """Weights fitted on the first half; errors measured on the second."""
    counter = counter_for_encoding(encoding)
    exact = np.array([counter._encode_len(text) for text in texts], dtype=float)
    x = np.array([features(text) for text in texts], dtype=float)
    half = len(texts) // 2
    scale = 1 / exact[:half]
    weights, *_ = np.linalg.lstsq(x[:half] * scale[:, None], exact[:half] * scale, rcond=None)
    estimates = np.maximum(1, np.round(x[half:] @ weights))
    relative = estimates / exact[half:] - 1
    long = np.array([len(text) >= 1000 for text in texts[half:]])
    return {"tokenizer": counter.source, "weights": dict(zip(FEATURES, np.round(weights, 5).tolist())),
            "error": errors(relative), "error_1000_chars_or_more": errors(relative[long]),
            "error_8k_conversation": conversation_errors(estimates, exact[half:])}


def main() -> None:
    args = fit_arguments(__doc__, OUT)
    texts = real_texts(args.data)
    result = {"source": f"bench/fit_token_estimate.py: {len(texts)} real texts of {MIN_CHARS}+ characters, fitted "
                        "on half, errors (relative, |estimate/exact - 1|) on the other half",
              "encodings": {name: fit(name, texts) for name in ("o200k_base", "cl100k_base")}}
    print("| encoding | texts (held out) | mean | p95 | p99 | 1000+ chars mean / p95 | 8k conversation mean / p95 |")
    print("|---|---|---|---|---|---|---|")
    for name, fitted in result["encodings"].items():
        e, long, conv = fitted["error"], fitted["error_1000_chars_or_more"], fitted["error_8k_conversation"]
        print(f"| {name} | {e['n']} | {e['mean']:.1%} | {e['p95']:.1%} | {e['p99']:.1%} | "
              f"{long['mean']:.1%} / {long['p95']:.1%} | {conv['mean']:.1%} / {conv['p95']:.1%} (n={conv['n']}) |")
    if args.write:
        write_fit(OUT, result)


if __name__ == "__main__":
    main()
