"""Train the semantic cache's alignment verifier (gateway/cache/alignment.py) on QQP's training split.

    pip install -e ".[train]"                  # PyTorch, for training only; the gateway runs the model in numpy
    python bench/train_alignment.py            # writes gateway/cache/alignment_params.npz (~5 minutes, 2 cores)

Only the 70% training split is read (bench/_qqp.py fixes the held-out 30%). It is cut into --folds folds; one
network per fold trains for --epochs on the other folds and contributes its last two epochs' weights (snapshots).
The shipped model averages all of them, which steadies the top of the ranking more than any single network, and
every training pair is scored by the networks that never saw it. On those out-of-fold scores the cosine floor and
the probability cut are chosen through the verifier's full pipeline (hard rules included): the most recall whose
precision reaches --target. A cut set on 40k pairs is not set on noise: one set on a 6k-pair validation part at
0.921 gave 0.915 on the held-out rows. The out-of-fold scores come from two-snapshot ensembles, weaker than the
shipped ten, so the cut is conservative. bench/cache_eval.py reports on the held-out rows.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _qqp import CACHE_DIR, REPO, TokenTable, default_pairs, file_digest, load_pairs  # noqa: E402

from gateway.cache.alignment import PARAMS_FILE, AlignmentModel, Member  # noqa: E402
from gateway.cache.embedder import MODEL_DIR_ENV, OnnxEmbedder  # noqa: E402
from gateway.cache.pair_features import differences, parse  # noqa: E402
from gateway.cache.verifier import Verifier  # noqa: E402

FLOORS = (0.65, 0.70, 0.75, 0.80)


def build_net(dim: int):
    import torch
    from torch import nn
    from torch.nn import functional as F

    class Net(nn.Module):
        """The training twin of alignment.Member (plus dropout); Member.logit must compute the same function."""

        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(384, dim)
            self.cmp = nn.Linear(4 * dim, dim)
            self.hid = nn.Linear(4 * dim + 1, dim)
            self.out = nn.Linear(dim, 1)
            self.drop = nn.Dropout(0.1)

        def side(self, x, aligned, mask):
            compared = F.relu(self.cmp(torch.cat([x, aligned, x - aligned, x * aligned], -1)))
            m = mask[..., None].float()
            mean = (compared * m).sum(1) / m.sum(1)
            top = (compared - 1e4 * (1 - m)).max(1).values
            return torch.cat([mean, top], -1)

        def forward(self, a_in, a_mask, b_in, b_mask, cos):
            a, b = self.drop(self.proj(self.drop(a_in))), self.drop(self.proj(self.drop(b_in)))
            scores = a @ b.transpose(1, 2) / dim ** 0.5
            a_aligned = torch.softmax(scores.masked_fill(~b_mask[:, None, :], -1e4), 2) @ b
            b_aligned = torch.softmax(scores.masked_fill(~a_mask[:, :, None], -1e4), 1).transpose(1, 2) @ a
            va, vb = self.side(a, a_aligned, a_mask), self.side(b, b_aligned, b_mask)
            pair = self.drop(torch.cat([va + vb, (va - vb).abs(), cos[:, None]], -1))
            return self.out(F.relu(self.hid(pair)))[:, 0]

    return Net()


def padded(table: TokenTable, texts: list[str]):
    import torch

    mats = [table.values(t) for t in texts]
    longest = max(m.shape[0] for m in mats)
    out = np.zeros((len(mats), longest, 384), np.float32)
    mask = np.zeros((len(mats), longest), bool)
    for k, m in enumerate(mats):
        out[k, :m.shape[0]], mask[k, :m.shape[0]] = m, True
    return torch.from_numpy(out), torch.from_numpy(mask)


def pooled_cosine(table: TokenTable, a: list[str], b: list[str]) -> np.ndarray:
    """The embedder's similarity, recomputed from the stored tokens (mean-pool, normalise)."""
    def unit(t: str) -> np.ndarray:
        v = table.values(t).mean(axis=0)
        return v / np.linalg.norm(v)
    return np.array([float(unit(x) @ unit(y)) for x, y in zip(a, b)], np.float32)


def snapshot(net) -> Member:
    w = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    return Member(w["proj.weight"].T, w["proj.bias"], w["cmp.weight"].T, w["cmp.bias"], w["hid.weight"].T,
                  w["hid.bias"], w["out.weight"][0], w["out.bias"][0])


def train(table: TokenTable, a: list[str], b: list[str], cos: np.ndarray, y: np.ndarray, seed: int, epochs: int,
          dim: int, log=print) -> list[Member]:
    import torch
    from torch.nn import functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    net = build_net(dim)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    members = []
    for epoch in range(epochs):
        net.train()
        order = rng.permutation(len(y))
        for start in range(0, len(order), 64):
            idx = order[start:start + 64]
            first, second = ([a[i] for i in idx], [b[i] for i in idx])
            if rng.random() < 0.5:  # both orders, so neither side is "the query"
                first, second = second, first
            logits = net(*padded(table, first), *padded(table, second), torch.from_numpy(cos[idx]))
            loss = F.binary_cross_entropy_with_logits(logits, torch.from_numpy(y[idx].astype(np.float32)))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        log(f"  seed {seed} epoch {epoch + 1}/{epochs} done")
        if epoch >= epochs - 2:
            net.eval()
            members.append(snapshot(net))
    return members


def choose_cut(prob: np.ndarray, a: list[str], b: list[str], cos: np.ndarray, y: np.ndarray,
               target: float) -> tuple[float, float, float, float]:
    """(floor, cut, recall, precision) with the most out-of-fold recall at precision >= target, rules applied."""
    rules = Verifier.load_default().rules
    ruled = np.array([any(f in rules for f in differences(parse(x), parse(z))) for x, z in zip(a, b)])
    best = (FLOORS[0], 1.0, 0.0, 0.0)
    for floor in FLOORS:
        keep = np.flatnonzero((cos >= floor) & ~ruled)
        order = keep[np.argsort(-prob[keep])]
        hits = np.cumsum(y[order])
        precision = hits / np.arange(1, len(order) + 1)
        ok = np.flatnonzero((precision >= target) & (np.arange(len(order)) >= 50))
        if len(ok) and hits[ok[-1]] / y.sum() > best[2]:
            k = ok[-1]
            best = (floor, float(prob[order[k]]), float(hits[k] / y.sum()), float(precision[k]))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=Path, default=default_pairs())
    shared_model = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2"
    parser.add_argument("--model-dir", default=os.environ.get(MODEL_DIR_ENV, str(shared_model)))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--target", type=float, default=0.92)
    parser.add_argument("--out", type=Path, default=REPO / "gateway" / "cache" / PARAMS_FILE)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    pairs = load_pairs(args.pairs)
    pairs = pairs.subset(~pairs.held_out)
    embedder = OnnxEmbedder(args.model_dir, variant="fp32", threads=2)
    texts = sorted(set(pairs.a) | set(pairs.b))
    table = TokenTable.build(texts, embedder, CACHE_DIR / f"qqp-tokens-{file_digest(args.pairs)}-train-fp32.npz")
    cos = pooled_cosine(table, pairs.a, pairs.b)
    order = np.random.default_rng(0).permutation(len(pairs.a))
    pick = lambda rows, idx: [rows[i] for i in idx]  # noqa: E731
    members: list[Member] = []
    out_of_fold = np.zeros(len(pairs.a))
    for fold in range(args.folds):
        held, fit = order[fold::args.folds], np.setdiff1d(order, order[fold::args.folds])
        trained = train(table, pick(pairs.a, fit), pick(pairs.b, fit), cos[fit], pairs.label[fit], fold + 1,
                        args.epochs, args.dim)
        fold_model = AlignmentModel(tuple(trained), 0.5, 0.0)
        out_of_fold[held] = [fold_model.probability(table.values(pairs.a[i]), table.values(pairs.b[i]), float(cos[i]))
                             for i in held]
        members += trained
    floor, cut, recall, precision = choose_cut(out_of_fold, pairs.a, pairs.b, cos, pairs.label.astype(np.int64),
                                               args.target)
    model = AlignmentModel(tuple(members), cut, floor)
    np.savez_compressed(args.out, **model.to_arrays())
    print(f"out of fold ({len(pairs.a)} pairs): cosine >= {floor}, p >= {cut:.3f}: recall {recall:.3f} at precision "
          f"{precision:.3f}; {len(members)} members; wrote {args.out} ({args.out.stat().st_size // 1024} KiB) "
          f"in {time.perf_counter() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
