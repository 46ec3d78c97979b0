"""What a cache hit costs the client, end to end, against the gateway's fixed cost measured in the same run.

Two gateway processes share one Redis, in front of the simulator (no latency model, so only software is timed):
- direct: the simulator called directly (the reference);
- bypass: gateway A with `x-gateway-cache: no-cache` (no lookup, no store): its p50 minus direct's is the gateway's
  fixed cost (ingress, analysis, decision, one more hop);
- exact/memory: questions A has answered, asked of A again; exact/redis: the same questions asked of B, which has
  never seen them (its first lookup finds them in Redis);
- semantic: paraphrases of answered questions (duplicate pairs of `qqp/pairs.dev.jsonl` under GATEWAY_DATA_DIR,
  or a synthetic set, said so), asked of A, timed apart by what answered them: `semantic_hit` (the verifier
  accepted) and `semantic_rejected` (looked up, then answered upstream); semantic_miss: new questions, since every
  eligible request pays for a lookup.
"Added over the fixed cost" = p50(tier) - (p50(bypass) - p50(direct)). The gateway's own in-process lookup time
(the change in its /metrics histogram over each phase) is reported beside it, and for the semantic rows a second
reference from the same run: the embedding model alone on the same paraphrases (most of a semantic lookup).

    python bench/cache_latency.py [--questions 200] [--redis redis://127.0.0.1:6379/15] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

import httpx
import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench._report import percentile  # noqa: E402
from bench._servers import free_port, gateway_server, sim_server  # noqa: E402

_SYNTHETIC = [("How do I {v} a {o} in {l}?", "What is the way to {v} a {o} using {l}?")]
_VERBS, _OBJECTS = ("sort", "reverse", "parse", "serialize", "copy"), ("list", "string", "dictionary", "file")
_LANGUAGES = ("Python", "Rust", "Go", "Java", "Ruby")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=200)
    parser.add_argument("--redis", default=os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object on the last line")
    return parser.parse_args(argv)


def question_pairs(limit: int) -> tuple[list[tuple[str, str]], str]:
    """(stored question, paraphrase) pairs, and where they came from."""
    data = os.environ.get("GATEWAY_DATA_DIR")
    path = Path(data) / "qqp" / "pairs.dev.jsonl" if data else None
    if path and path.is_file():
        pairs = []
        with path.open() as rows:
            for line in rows:
                row = json.loads(line)
                if row["label"] == 1 and len(row["a"]) > 20 and row["a"] != row["b"]:
                    pairs.append((row["a"], row["b"]))
                if len(pairs) == limit:
                    break
        return pairs, f"QQP duplicate pairs ({path})"
    pairs = [(a.format(v=v, o=o, l=lang), b.format(v=v, o=o, l=lang)) for a, b in _SYNTHETIC
             for v in _VERBS for o in _OBJECTS for lang in _LANGUAGES]
    return pairs[:limit], "synthetic paraphrases (no GATEWAY_DATA_DIR)"


def body(question: str) -> dict:
    return {"model": "gpt-4o", "max_tokens": 64, "messages": [{"role": "user", "content": question}]}


async def timed(client: httpx.AsyncClient, url: str, questions: list[str], headers: dict | None = None
                ) -> tuple[list[float], list[str]]:
    """Sequential requests (c=1): per-request seconds and x-gateway-cache value."""
    seconds, kinds = [], []
    for question in questions:
        started = time.perf_counter()
        response = await client.post(url + "/chat/completions", json=body(question), headers=headers)
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
        kinds.append(response.headers.get("x-gateway-cache", "direct"))
    return seconds, kinds


async def lookup_totals(client: httpx.AsyncClient, gateway: str) -> tuple[float, float]:
    """(seconds, lookups) so far, from the gateway's own /metrics histogram of in-process lookup time."""
    text = (await client.get(gateway.removesuffix("/v1") + "/metrics")).text
    total = float(re.search(r"^gateway_cache_lookup_seconds_sum (\S+)", text, re.M).group(1))
    return total, float(re.search(r"^gateway_cache_lookup_seconds_count (\S+)", text, re.M).group(1))


async def phase(client: httpx.AsyncClient, url: str, questions: list[str], headers: dict | None = None
                ) -> tuple[list[float], list[str], float]:
    """A timed phase, with the mean in-gateway lookup time (ms) of the lookups it caused."""
    before = await lookup_totals(client, url)
    seconds, kinds = await timed(client, url, questions, headers)
    after = await lookup_totals(client, url)
    lookups = after[1] - before[1]
    return seconds, kinds, 1000 * (after[0] - before[0]) / lookups if lookups else 0.0


async def measure(urls: dict[str, str], pairs: list[tuple[str, str]]) -> dict:
    half = len(pairs) // 2
    stored = [a for a, _ in pairs[:half]]
    paraphrases = [b for _, b in pairs[:half]]
    unseen = [a for a, _ in pairs[half:]]  # real questions no one asked before: every lookup misses
    async with httpx.AsyncClient(timeout=30) as client:
        await timed(client, urls["a"], stored[:5], {"x-gateway-cache": "no-cache"})  # warm-up
        await timed(client, urls["sim"], stored[:5])
        runs = {"direct": (*await timed(client, urls["sim"], stored), 0.0),
                "bypass": (*await timed(client, urls["a"], stored, {"x-gateway-cache": "no-cache"}), 0.0),
                "store": await phase(client, urls["a"], stored)}
        await asyncio.sleep(2.5)  # background writes land in Redis; B's semantic index syncs
        runs["exact_memory"] = await phase(client, urls["a"], stored)
        runs["exact_redis"] = await phase(client, urls["b"], stored)
        runs["semantic"] = await phase(client, urls["a"], paraphrases)
        runs["semantic_miss"] = await phase(client, urls["a"], unseen, {"x-gateway-cache": "no-store"})
    return summarize(runs)


# Rows of the table: (phase, the answers timed). A paraphrase the verifier does not accept is answered upstream, so
# the semantic phase is split by what answered: its hits are what a semantic hit costs, the rest a lookup that missed.
ROWS = {"exact_memory": ("exact_memory", None), "exact_redis": ("exact_redis", None),
        "semantic_hit": ("semantic", "semantic"), "semantic_rejected": ("semantic", "miss"),
        "semantic_miss": ("semantic_miss", None)}


def summarize(runs: dict) -> dict:
    p50 = {name: 1000 * percentile(seconds, 50) for name, (seconds, _, _) in runs.items()}
    fixed = p50["bypass"] - p50["direct"]
    tiers = {}
    for name, (phase_name, answered) in ROWS.items():
        seconds, kinds, in_gateway = runs[phase_name]
        timed_here = [s for s, kind in zip(seconds, kinds) if answered is None or kind == answered]
        if not timed_here:
            continue
        tier_p50 = 1000 * percentile(timed_here, 50)
        tiers[name] = {"p50_ms": round(tier_p50, 3), "p99_ms": round(1000 * percentile(timed_here, 99), 3),
                       "added_over_fixed_ms": round(tier_p50 - fixed, 3), "requests": len(timed_here),
                       "in_gateway_lookup_ms_mean": round(in_gateway, 3),
                       "answers": {kind: kinds.count(kind) for kind in sorted(set(kinds))}}
    return {"direct_p50_ms": round(p50["direct"], 3), "bypass_p50_ms": round(p50["bypass"], 3),
            "fixed_cost_ms": round(fixed, 3), "tiers": tiers}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    pairs, source = question_pairs(2 * args.questions)
    prefix = "bench-cache-" + uuid.uuid4().hex[:8]
    with ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "gateway.yaml"
        # A generous Redis deadline: on a busy machine a 50 ms one would turn tier-2 hits into misses, and this
        # benchmark measures what a hit costs, not how the gateway copes with a slow Redis (the tests do that).
        config.write_text(f"redis_url: {args.redis}\ncache: {{redis_prefix: {prefix}, redis_timeout_ms: 1000}}\n")
        sim = sim_server(free_port())
        servers = [sim, gateway_server(free_port(), sim.base_url, config),
                   gateway_server(free_port(), sim.base_url, config)]
        for index, server in enumerate(servers):
            server.name = f"{server.name}-{index}"
            stack.callback(server.stop)
            server.start(Path(tmp))
        stack.callback(lambda: _clean(args.redis, prefix))
        time.sleep(3)  # the embedder loads off the event loop after start-up
        result = asyncio.run(measure({"sim": sim.base_url, "a": servers[1].base_url, "b": servers[2].base_url},
                                     pairs))
    result.update(questions=len(pairs) // 2, source=source, embed_alone_p50_ms=embed_alone_p50(
        [b for _, b in pairs[:len(pairs) // 2]]))  # the paraphrases the semantic phase asks
    print(table(result))
    if args.json:
        print(json.dumps(result))
    return 0


def embed_alone_p50(questions: list[str]) -> float | None:
    """The reference for the semantic rows, taken in the same run: the model run alone on the same paraphrases, one
    at a time on one thread, as the gateway's embedder makes it (None without GATEWAY_MODEL_DIR)."""
    model_dir = os.environ.get("GATEWAY_MODEL_DIR")
    if not model_dir:
        return None
    from gateway.cache.embedder import OnnxEmbedder

    embedder = OnnxEmbedder(model_dir, variant="fp32")
    embedder.run(["warm up the session"])
    seconds = []
    for question in questions:
        started = time.perf_counter()
        embedder.run([question])
        seconds.append(time.perf_counter() - started)
    return round(1000 * percentile(seconds, 50), 3)


def table(result: dict) -> str:
    lines = [f"{result['questions']} questions from {result['source']}",
             f"direct p50 {result['direct_p50_ms']:.2f} ms; gateway with cache bypassed p50 "
             f"{result['bypass_p50_ms']:.2f} ms; fixed cost {result['fixed_cost_ms']:.2f} ms; the embedding model "
             f"alone on the paraphrases p50 {result['embed_alone_p50_ms'] or float('nan'):.2f} ms", "",
             "| tier | requests timed | p50 ms | p99 ms | added over fixed cost, ms | in-gateway lookup of the "
             "phase, mean ms | answers in the phase |",
             "|---|---|---|---|---|---|---|"]
    for name, tier in result["tiers"].items():
        lines.append(f"| {name} | {tier['requests']} | {tier['p50_ms']:.2f} | {tier['p99_ms']:.2f} | "
                     f"{tier['added_over_fixed_ms']:.2f} | {tier['in_gateway_lookup_ms_mean']:.2f} | "
                     f"{tier['answers']} |")
    return "\n".join(lines)


def _clean(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(prefix + ":*"):
        client.delete(key)


if __name__ == "__main__":
    sys.exit(main())
