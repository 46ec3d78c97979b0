"""The client side of the fault suite: one request as a client sees it, the re-ask that catches wrongly cached
answers, and reading counters from /metrics. Shared by every mode of bench/faults.py."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import httpx


def body(prompt: int, stream: bool) -> dict:
    return {"model": "gpt-4o", "max_tokens": 48, "stream": stream,
            "messages": [{"role": "user", "content": f"Give one fact about the number {prompt}."}]}


async def ask(client: httpx.AsyncClient, url: str, prompt: int, stream: bool) -> dict:
    """One request: whether the client got a whole answer, whether a failure was said, and the text."""
    try:
        response = await client.post(url + "/chat/completions", json=body(prompt, stream))
    except httpx.HTTPError:
        return {"prompt": prompt, "stream": stream, "ok": False, "said": False, "text": None, "cache": None}
    if not stream:
        ok = response.status_code == 200
        text = response.json()["choices"][0]["message"]["content"] if ok else None
        return {"prompt": prompt, "stream": stream, "ok": ok, "said": not ok, "text": text,
                "cache": response.headers.get("x-gateway-cache")}
    events = [line[6:] for line in response.text.split("\n") if line.startswith("data: ")]
    done = bool(events) and events[-1] == "[DONE]"
    said = response.status_code != 200 or any('"error"' in event for event in events)
    text = "".join(_delta(event) for event in events[:-1]) if done else None
    return {"prompt": prompt, "stream": stream, "ok": done and response.status_code == 200, "said": said, "text": text,
            "cache": response.headers.get("x-gateway-cache")}


def _delta(event: str) -> str:
    choices = json.loads(event).get("choices") or []
    return "".join((choice.get("delta") or {}).get("content") or "" for choice in choices)


async def wrongly_cached(url: str, first: list[dict], headers: dict[str, str] | None = None) -> int:
    """Ask every prompt again (no faults now): an answer from a cache (exact or semantic) must be one of the complete
    answers that prompt got the first time; a prompt that never got one must not be answered from a cache."""
    complete: dict[int, set[str]] = defaultdict(set)
    for result in first:
        complete[result["prompt"]].update([result["text"]] if result["ok"] else [])
    wrong = 0
    async with httpx.AsyncClient(timeout=30, headers=headers) as client:
        for prompt in sorted({result["prompt"] for result in first}):
            again = await ask(client, url, prompt, stream=False)
            if again["cache"] in ("exact", "semantic") and again["text"] not in complete[prompt]:
                wrong += 1
    return wrong


def metric_sum(metrics: str, name: str) -> int:
    """A Prometheus family's total over all its label sets."""
    return int(sum(float(value) for value in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", metrics, re.M)))


def failure_counts(results: list[dict]) -> dict[str, int]:
    """What the clients saw: failures (non-streamed ones apart), and failures nobody was told about."""
    return {"requests": len(results), "client_visible_failures": sum(not r["ok"] for r in results),
            "non_stream_failures": sum(not r["ok"] for r in results if not r["stream"]),
            "silent_cuts": sum(not r["ok"] and not r["said"] for r in results)}
