"""Experiment (not shipped): a MiniLM cross-encoder for the semantic cache's verifier, top layers fine-tuned.

    pip install -e ".[train]" onnx
    python bench/train_alignment.py --dry-run --save-oof /tmp/gateway-bench-cache/alignment-oof.npz
    python bench/train_cross_encoder.py --out /tmp/cross_encoder_params.npz   # ~38 minutes alone on 2 cores

MiniLM reads both questions at once ("[CLS] a [SEP] b [SEP]"). The bottom layers keep the published weights, so
their output for every training pair (both orders) is computed once (159 s) and kept; only the top --trainable
layers and a logistic head train (about 115 s per epoch over 31,846 pairs, one random order each). Out-of-fold
scores use the alignment model's folds (fold k of train_alignment's first repeat), so the two verifiers are compared
on identical training data, and the joint cut (the mean of both probabilities) is chosen on them.

Session 11, fold 0 of QQP's training split (7,962 pairs), recall at precision 0.90 / 0.92 / 0.94, rules applied:
one alignment network 0.274 / 0.192 / 0.150; the cross-encoder (2 layers, 3 epochs) 0.211 / 0.165 / 0.032 (a
first run, other seed and lr schedule: 0.219 / 0.191 / 0.056); the mean of the two 0.346 / 0.215 / 0.131 (first
run: 0.345 / 0.252 / 0.134). The runtime (onnxruntime overriding the published model's top-layer initializers,
the verifier's joint decision off the event loop) is not on main: nothing here changes what the gateway serves.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _qqp import CACHE_DIR, REPO, default_pairs, load_pairs  # noqa: E402
from train_alignment import choose_cut, fold_split  # noqa: E402

PARAMS_FILE = "cross_encoder_params.npz"

HEADS = 12
MAX_TOKENS = 128


def onnx_weights(model_path: Path) -> tuple[dict[str, np.ndarray], list[list[tuple[str, np.ndarray]]]]:
    """Named initializers and, per layer, the six (name, MatMul weight) pairs in graph order (query, key, value,
    attention out, FF in, FF out); the export names matrices by number, so only their order says which is which."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(model_path)).graph
    named, matmuls = {}, []
    for tensor in graph.initializer:
        value = numpy_helper.to_array(tensor).astype(np.float32)
        if tensor.name.startswith("onnx::MatMul"):
            matmuls.append((tensor.name, value))
        else:
            named[tensor.name] = value
    per_layer = [matmuls[i:i + 6] for i in range(0, len(matmuls), 6)]
    return named, per_layer


def build_model(named: dict, per_layer: list, trainable: int):
    import torch
    from torch import nn

    def param(value: np.ndarray, grad: bool) -> nn.Parameter:
        return nn.Parameter(torch.tensor(value), requires_grad=grad)

    class Layer(nn.Module):
        def __init__(self, index: int, grad: bool) -> None:
            super().__init__()
            p = f"b.encoder.layer.{index}."
            vectors = ("attention.self.query.bias", "attention.self.key.bias", "attention.self.value.bias",
                       "attention.output.dense.bias", "attention.output.LayerNorm.weight",
                       "attention.output.LayerNorm.bias", "intermediate.dense.bias", "output.dense.bias",
                       "output.LayerNorm.weight", "output.LayerNorm.bias")
            # Each parameter under the initializer name it came from, which is also the name it ships under.
            self.sources = {name: param(value, grad) for name, value in per_layer[index]}
            self.sources.update({p + v: param(named[p + v], grad) for v in vectors})
            self.wq, self.wk, self.wv, self.wo, self.wi, self.wf = list(self.sources.values())[:6]
            (self.bq, self.bk, self.bv, self.bo, self.g1, self.c1,
             self.bi, self.bf, self.g2, self.c2) = list(self.sources.values())[6:]

        def forward(self, h, attn_mask, dropout: float):
            b, t, d = h.shape
            split = lambda x: x.view(b, t, HEADS, d // HEADS).transpose(1, 2)  # noqa: E731
            q, k, v = split(h @ self.wq + self.bq), split(h @ self.wk + self.bk), split(h @ self.wv + self.bv)
            ctx = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask,
                                                                   dropout_p=dropout if self.training else 0.0)
            ctx = ctx.transpose(1, 2).reshape(b, t, d)
            drop = lambda x: torch.nn.functional.dropout(x, dropout, self.training)  # noqa: E731
            h = torch.nn.functional.layer_norm(h + drop(ctx @ self.wo + self.bo), (d,), self.g1, self.c1, 1e-12)
            ff = torch.nn.functional.gelu(h @ self.wi + self.bi) @ self.wf + self.bf
            return torch.nn.functional.layer_norm(h + drop(ff), (d,), self.g2, self.c2, 1e-12)

    class CrossEncoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.word = param(named["b.embeddings.word_embeddings.weight"], False)
            self.position = param(named["b.embeddings.position_embeddings.weight"], False)
            self.types = param(named["b.embeddings.token_type_embeddings.weight"], False)
            self.eg = param(named["b.embeddings.LayerNorm.weight"], False)
            self.ec = param(named["b.embeddings.LayerNorm.bias"], False)
            layers = len(per_layer)
            self.frozen = nn.ModuleList([Layer(i, False) for i in range(layers - trainable)])
            self.top = nn.ModuleList([Layer(i, True) for i in range(layers - trainable, layers)])
            self.head = nn.Linear(2 * 384, 1)

        def bottom(self, ids, types, mask):
            """The frozen part: embeddings and the first layers, in eval mode (no dropout)."""
            t = ids.shape[1]
            h = self.word[ids] + self.position[:t][None] + self.types[types]
            h = torch.nn.functional.layer_norm(h, (384,), self.eg, self.ec, 1e-12)
            attn = additive(mask)
            for layer in self.frozen:
                h = layer(h, attn, 0.0)
            return h

        def upper(self, h, mask, dropout: float = 0.1):
            attn = additive(mask)
            for layer in self.top:
                h = layer(h, attn, dropout)
            weights = mask[:, :, None].to(h.dtype)
            mean = (h * weights).sum(1) / weights.sum(1).clamp(min=1)
            return self.head(torch.nn.functional.dropout(torch.cat([h[:, 0], mean], 1), dropout, self.training))[:, 0]

    def additive(mask):
        return ((1.0 - mask[:, None, None, :].float()) * -1e9)

    return CrossEncoder()


def encode(tokenizer, a: list[str], b: list[str]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Token ids and token types of each pair read as one sequence."""
    return [(np.array(e.ids, np.int64), np.array(e.type_ids, np.int64))
            for e in tokenizer.encode_batch(list(zip(a, b)))]


def batches(lengths: np.ndarray, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    """Index batches of similar length (little padding); shuffled within and across batches when rng is given."""
    order = np.argsort(lengths + (rng.random(len(lengths)) * 3 if rng is not None else 0), kind="stable")
    out = [order[i:i + size] for i in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(out)
    return out


def padded(encoded, idx):
    import torch

    t = max(len(encoded[i][0]) for i in idx)
    ids = np.zeros((len(idx), t), np.int64)
    types = np.zeros((len(idx), t), np.int64)
    mask = np.zeros((len(idx), t), np.int64)
    for row, i in enumerate(idx):
        n = len(encoded[i][0])
        ids[row, :n], types[row, :n], mask[row, :n] = encoded[i][0], encoded[i][1], 1
    return torch.tensor(ids), torch.tensor(types), torch.tensor(mask)


def frozen_states(model, encoded, size: int = 64) -> list:
    """The bottom layers' output for every encoded pair, fp16, unpadded."""
    import torch

    out: list = [None] * len(encoded)
    lengths = np.array([len(e[0]) for e in encoded])
    with torch.no_grad():
        for idx in batches(lengths, size, None):
            ids, types, mask = padded(encoded, idx)
            h = model.bottom(ids, types, mask)
            for row, i in enumerate(idx):
                out[i] = h[row, :lengths[i]].to(torch.float16)
    return out


def stacked(states, idx):
    import torch

    t = max(states[i].shape[0] for i in idx)
    h = torch.zeros((len(idx), t, states[idx[0]].shape[1]))
    mask = torch.zeros((len(idx), t), dtype=torch.int64)
    for row, i in enumerate(idx):
        n = states[i].shape[0]
        h[row, :n] = states[i].float()
        mask[row, :n] = 1
    return h, mask


def score(model, states, size: int = 128) -> np.ndarray:
    import torch

    model.eval()
    out = np.zeros(len(states))
    lengths = np.array([s.shape[0] for s in states])
    with torch.no_grad():
        for idx in batches(lengths, size, None):
            h, mask = stacked(states, idx)
            out[idx] = torch.sigmoid(model.upper(h, mask)).numpy()
    return out


def train_top(named, per_layer, trainable: int, states, y, idx: np.ndarray, epochs: int, lr: float, batch: int,
              seed: int, log):
    """A fresh model whose top layers and head are trained on the pairs `idx` (both orders kept in `states`:
    pair i at i and at i + n), each pair once per epoch in a random one of its orders."""
    import torch

    torch.manual_seed(seed)
    model = build_model(named, per_layer, trainable)
    n = len(states) // 2
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": list(model.top.parameters()), "lr": lr},
                                   {"params": list(model.head.parameters()), "lr": lr * 20}], weight_decay=0.01)
    steps = epochs * math.ceil(len(idx) / batch)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min(1.0, step / max(1, steps // 10)) * max(0.0, (steps - step) / steps))
    lengths = np.array([s.shape[0] for s in states])
    target = torch.tensor(np.concatenate([y, y]).astype(np.float32))
    rng = np.random.default_rng(seed)
    for epoch in range(epochs):
        model.train()
        chosen = idx + n * rng.integers(0, 2, len(idx))
        total = 0.0
        for count, picked in enumerate(batches(lengths[chosen], batch, rng)):
            rows = chosen[picked]
            h, mask = stacked(states, rows)
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model.upper(h, mask), target[rows])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            schedule.step()
            total += float(loss.detach())
        log(f"  seed {seed} epoch {epoch + 1}/{epochs}: loss {total / (count + 1):.4f}")
    return model


def main(argv: list[str] | None = None) -> int:
    import torch
    from tokenizers import Tokenizer

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=Path, default=default_pairs())
    shared_model = REPO.parent / "shared" / "models" / "all-MiniLM-L6-v2"
    parser.add_argument("--model-dir", type=Path, default=Path(os.environ.get("GATEWAY_MODEL_DIR", shared_model)))
    parser.add_argument("--trainable", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=8e-5)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--folds", type=int, default=5, help="out-of-fold scores on the alignment model's folds")
    parser.add_argument("--oof-out", type=Path, default=CACHE_DIR / "cross-encoder-oof.npz")
    parser.add_argument("--alignment-oof", type=Path, default=CACHE_DIR / "alignment-oof.npz",
                        help="the alignment model's out-of-fold scores (bench/train_alignment.py --dry-run --save-oof)")
    parser.add_argument("--target", type=float, default=0.92, help="out-of-fold precision the joint cut must reach")
    parser.add_argument("--out", type=Path, default=CACHE_DIR / PARAMS_FILE,
                        help="where the parameters go (nothing on main reads them: the runtime is not shipped)")
    parser.add_argument("--cut-only", action="store_true", help="rechoose the joint cut of --out from saved scores")
    args = parser.parse_args(argv)
    if args.cut_only:
        pairs = load_pairs(args.pairs)
        with np.load(args.out) as shipped:
            return write_with_cut(args, pairs.subset(~pairs.held_out), dict(shipped))
    torch.set_num_threads(2)
    started = time.perf_counter()
    log = lambda text: print(f"{text} ({time.perf_counter() - started:.0f}s)", flush=True)  # noqa: E731
    pairs = load_pairs(args.pairs)
    pairs = pairs.subset(~pairs.held_out)
    tokenizer = Tokenizer.from_file(str(args.model_dir / "tokenizer.json"))
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.no_padding()  # tokenizer.json pads every sequence to 128; batches pad to their own longest instead.
    model_path = args.model_dir / "onnx" / "model.onnx"
    named, per_layer = onnx_weights(model_path)
    a, b, y = pairs.a, pairs.b, pairs.label.astype(np.float32)
    states = frozen_states(build_model(named, per_layer, args.trainable), encode(tokenizer, a + b, b + a))
    log(f"frozen states for {len(states)} sequences")
    n = len(a)
    oof = np.zeros(n)
    for fold in range(args.folds):
        held, fit = fold_split(n, args.folds, fold, repeat=0)  # the alignment model's folds, first repeat
        model = train_top(named, per_layer, args.trainable, states, y, fit, args.epochs, args.lr, args.batch,
                          1 + fold, log)
        oof[held] = score(model, [states[i] for i in held])  # one order, (a, b), as the runtime scores (query, cached)
        log(f"fold {fold} scored")
    if args.folds:
        np.savez_compressed(args.oof_out, oof=oof, label=y)
    model = train_top(named, per_layer, args.trainable, states, y, np.arange(n), args.epochs, args.lr, args.batch,
                      0, log)
    log("final model trained")
    return write_with_cut(args, pairs, shipped_arrays(model, model_path))


def write_with_cut(args: argparse.Namespace, pairs, arrays: dict[str, np.ndarray]) -> int:
    """Choose the joint cut on out-of-fold scores (the mean of both models' probabilities, rules applied, as the
    verifier decides) and write the parameters with it."""
    if not args.alignment_oof.exists():
        print(f"{args.alignment_oof} is missing: run python bench/train_alignment.py --dry-run --save-oof "
              f"{args.alignment_oof}", file=sys.stderr)
        return 2
    with np.load(args.oof_out) as ce, np.load(args.alignment_oof) as aligned:
        if len(ce["oof"]) != len(pairs.a) or len(aligned["averaged"]) != len(pairs.a):
            print("out-of-fold scores are for other pairs: rerun both scripts", file=sys.stderr)
            return 2
        joint = (ce["oof"] + aligned["averaged"]) / 2
        cosine, label = aligned["cosine"], pairs.label.astype(np.int64)
        for name, scores in (("alignment alone", aligned["averaged"]), ("cross-encoder alone", ce["oof"]),
                             ("mean of both", joint)):
            cells = [f"recall {choose_cut(scores, pairs.a, pairs.b, cosine, label, t)[2]:.3f} at {t:.2f}"
                     for t in (0.90, 0.92, 0.94)]
            print(f"out of fold, {name}: " + ", ".join(cells))
    floor, cut, recall, precision = choose_cut(joint, pairs.a, pairs.b, cosine, label, args.target)
    arrays.update(min_probability=np.array(cut), min_similarity=np.array(floor))
    np.savez_compressed(args.out, **arrays)
    print(f"chose cosine >= {floor}, mean p >= {cut:.3f} (out of fold: recall {recall:.3f} at precision "
          f"{precision:.3f}); wrote {args.out} ({args.out.stat().st_size // 1024} KiB)")
    return 0


def stored_weight(name: str, value: np.ndarray) -> dict[str, np.ndarray]:
    """A matrix as int8 with one float32 scale per output column (3.2 MB for two layers against 6.4 MB as
    float16; how far its probabilities move from float32's is not measured yet); vectors as float16."""
    if value.ndim == 1:
        return {f"layer:{name}": value.astype(np.float16)}
    scale = np.maximum(np.abs(value).max(axis=0), 1e-12) / 127.0
    return {f"layer:{name}": np.round(value / scale).astype(np.int8), f"scale:{name}": scale.astype(np.float32)}


def shipped_arrays(model, model_path: Path) -> dict[str, np.ndarray]:
    """The trained layers under the base model's own initializer names (int8 matrices, float16 vectors), the head,
    and the base model's digest: the names are that export's, so the runtime refuses any other model file."""
    import hashlib

    arrays: dict[str, np.ndarray] = {}
    for layer in model.top:
        for name, value in layer.sources.items():
            arrays.update(stored_weight(name, value.detach().numpy()))
    arrays["head_weight"] = model.head.weight.detach().numpy()[0].astype(np.float32)
    arrays["head_bias"] = model.head.bias.detach().numpy().astype(np.float32)
    arrays["base_sha256"] = np.array(hashlib.sha256(model_path.read_bytes()).hexdigest())
    return arrays

if __name__ == "__main__":
    raise SystemExit(main())
