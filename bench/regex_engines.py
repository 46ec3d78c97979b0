"""The analyzer's patterns on `re` and on their RE2 twins, by text length: where RE2 starts to pay.

    python bench/regex_engines.py [--lengths 40,80,160,400,1000,2400] [--texts 200] [--json]

For each length, the mean time of one `search` per pattern, averaged over every pattern that has an RE2 twin, on
lower-cased user turns cut to that length (real ShareGPT turns when a data folder is there, synthetic text
otherwise, labelled). Both engines run in the same process on the same texts, so the ratio is what to read on a
noisy machine. `gateway.analysis.patterns.RE2_MIN_CHARS` is set from the first length where RE2 wins.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.analyzer_latency import corpus  # noqa: E402
from gateway.analysis import patterns  # noqa: E402
from gateway.analysis.analyzer import analyze  # noqa: E402,F401  (imports every analyzer module)


def mean_search_us(engines: list, texts: list[str]) -> float:
    start = time.perf_counter()
    for engine in engines:
        for text in texts:
            engine.search(text)
    return (time.perf_counter() - start) / (len(engines) * len(texts)) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lengths", default="40,80,160,400,1000,2400")
    parser.add_argument("--texts", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    data = Path(os.environ.get("GATEWAY_DATA_DIR", REPO.parent / "shared" / "data"))
    users, _, label = corpus(data if data.is_dir() else None)
    lengths = [int(value) for value in args.lengths.split(",")]
    long_ascii = [text.lower() for text in users if text.isascii() and len(text) >= max(lengths)]
    sample = random.Random(1).sample(long_ascii, min(args.texts, len(long_ascii)))
    twinned = [pattern for pattern in patterns.COMPILED if pattern.twin is not None]
    rows = []
    for length in lengths:
        texts = [text[:length] for text in sample]
        re_us = mean_search_us([pattern.regex for pattern in twinned], texts)
        re2_us = mean_search_us([pattern.twin for pattern in twinned], texts)
        rows.append({"chars": length, "re_us": round(re_us, 2), "re2_us": round(re2_us, 2),
                     "re_over_re2": round(re_us / re2_us, 2)})
    print(f"{len(twinned)} patterns with an RE2 twin, {len(sample)} texts: {label}")
    print("| chars | re µs/search | RE2 µs/search | re / RE2 |\n|---|---|---|---|")
    for row in rows:
        print(f"| {row['chars']} | {row['re_us']} | {row['re2_us']} | {row['re_over_re2']}x |")
    if args.json:
        print(json.dumps({"patterns": len(twinned), "texts": len(sample), "rows": rows,
                          "re2_min_chars": patterns.RE2_MIN_CHARS}))


if __name__ == "__main__":
    main()
