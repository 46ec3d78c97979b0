"""Train the quality router on the training split of the routing and replay dev sets and ship its parameters.

    python bench/train_router.py              # fit with the recorded setting, write gateway/routing/router_params.json
    python bench/train_router.py --select     # first choose the setting by 5-fold CV inside the training split
    python bench/train_router.py --cross      # also report leave-one-set-out results on the held-out splits
    python bench/train_router.py --router embedding [--select]   # the embedding router (needs GATEWAY_MODEL_DIR;
                                              # prompt vectors are cached in /tmp, see bench/_prompt_vectors.py)

Data: $GATEWAY_DATA_DIR (default ../shared/data). Prompts whose hash bucket is below 30 of 100 are the held-out
split: never trained on, never used to choose a setting, only reported by bench/routing_eval.py.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.routing.data import DEV_SETS, REFERENCE_PREMIUM, TEST_PERCENT, data_dir, load_dev_sets  # noqa: E402
from gateway.routing.quality import VARIANT_FILES  # noqa: E402
from gateway.routing.train import CONFIGS, fit, to_params  # noqa: E402
from gateway.routing.tuning import GRIDS, cross_dataset, select, split  # noqa: E402

PACKAGE = Path(__file__).resolve().parent.parent / "gateway" / "routing"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--router", choices=("words", "embedding"), default="words", help="which router to train")
    parser.add_argument("--out", type=Path, help="parameter file to write (default: the variant's shipped file)")
    parser.add_argument("--sets", default=",".join(DEV_SETS), help="dev sets to train on")
    parser.add_argument("--select", action="store_true", help="choose the setting by CV inside the training split")
    parser.add_argument("--cross", action="store_true", help="report leave-one-set-out results")
    args = parser.parse_args(argv)

    root = data_dir()
    sets = load_dev_sets(args.sets.split(","), root)
    train_sets = split(sets, test=False)
    config, out = CONFIGS[args.router], args.out or PACKAGE / VARIANT_FILES[args.router]
    store = _vector_store() if args.router == "embedding" else None
    embed = store.get if store else None
    if args.select:
        config, results = select(train_sets, root, config, lambda row: print(json.dumps(row), flush=True),
                                 GRIDS[args.router], embed)
        print(f"selected: {json.dumps({k: getattr(config, k) for k in results[0] if hasattr(config, k)})}")
    started = time.perf_counter()
    fitted = fit(list(train_sets.values()), config, embed)
    meta = {"data": {name: {"file": DEV_SETS[name], "train_prompts": len(s.prompts)} for name, s in train_sets.items()},
            "split": f"train = sha256(prompt) bucket >= {TEST_PERCENT} of 100; the rest is held out"}
    params = to_params(fitted, config, REFERENCE_PREMIUM, meta, store.embedder.name if store else None)
    out.write_text(json.dumps(params, indent=0, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"trained in {time.perf_counter() - started:.1f}s on {sum(len(s.prompts) for s in train_sets.values())} "
          f"prompts; wrote {out} ({out.stat().st_size / 1024:.0f} KiB, {len(params['words'])} words)")
    print("abilities (calibrated): " + ", ".join(f"{m} {a:+.2f}" for m, a in sorted(
        params["abilities"].items(), key=lambda kv: -kv[1])[:12]) + ", ...")
    print(f"tiers: {params['tiers']}; set offsets: {params['training']['set_offsets']}")
    if args.cross:
        print("\nleave-one-set-out (train on the other sets' training split, test on this set's held-out split):")
        print("| left out | saving @95% | saving @90% | random @95% | oracle @95% |\n|---|---|---|---|---|")
        for name, row in cross_dataset(sets, config, root, embed).items():
            print(f"| {name} | {row['saving_at_95_pct']} | {row['saving_at_90_pct']} | "
                  f"{row['random_saving_at_95_pct']} | {row['oracle_saving_at_95_pct']} |")
    return 0


def _vector_store():
    """The prompt vectors of the embedding router, cached outside the repository."""
    from _prompt_vectors import default_store
    return default_store()


if __name__ == "__main__":
    sys.exit(main())
