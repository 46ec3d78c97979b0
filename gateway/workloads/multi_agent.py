"""The multi-agent content pipeline of the field reports: research, outline, draft and refine agents per item.

Each item is a real Arena prompt (the topic). Every agent sends `x-gateway-agent-role`, its role prompt as the
system message and the prior agents' outputs, as such pipelines do:
- research: the topic itself;
- outline: the research notes (history) and the request for an outline of the topic;
- draft: the research notes and the outline (history) and the request for the draft;
- refine: the draft inside the request (an editor needs the text it edits).
Prior outputs are real recorded text: the research notes and the draft are the baseline model's recorded answer,
the outline is another premium model's (`gpt-4-0314`) recorded answer. Each agent's own answer is the recorded
answer of the model that serves it, to the topic (the simulator's replay, via `extra_replay`), and its quality is
that answer's recorded judge score: a proxy that measures the model's ability on the item, not the agent's text.
Re-runs: a whole pipeline is re-run for an item at the Mooncake trace's exact-repeat rate.
"""

from __future__ import annotations

import random

from gateway.workloads.model import QualityKey, WorkRequest, Workload
from gateway.workloads.sources import BASELINE_MODEL, SECOND_OPINION, ReplaySet, shuffled
from gateway.workloads.traces import arrivals, arrival_gaps, mooncake_repeat_rate

ROLE_PROMPTS = {
    "research": "You are the research agent of a content team. Gather the facts, methods and caveats the writers "
                "will need, as notes.",
    "outline": "You are the outline agent of a content team. Turn research notes into a clear, logical outline.",
    "draft": "You are the drafting agent of a content team. Write the complete piece from the notes and outline.",
    "refine": "You are the editing agent of a content team. Improve the draft's clarity, accuracy and flow without "
              "changing its substance.",
}


def _agent_calls(topic: str, research: str, outline: str, draft: str) -> list[tuple[str, list[dict]]]:
    """The four agents' messages for one item, in pipeline order."""
    def system(role: str) -> dict:
        return {"role": "system", "content": ROLE_PROMPTS[role]}

    notes = [{"role": "user", "content": f"Research this request: {topic}"},
             {"role": "assistant", "content": research}]
    return [
        ("research", [system("research"), {"role": "user", "content": topic}]),
        ("outline", [system("outline"), *notes,
                     {"role": "user", "content": f"Write an outline for a piece that answers: {topic}"}]),
        ("draft", [system("draft"), *notes, {"role": "assistant", "content": outline},
                   {"role": "user", "content": f"Using the notes and outline, write the full piece that answers: "
                                               f"{topic}"}]),
        ("refine", [system("refine"), {"role": "user", "content": f"Refine this draft answering \"{topic}\":\n\n"
                                                                   f"{draft}"}]),
    ]


def build(arena: ReplaySet, data, items: int, seed: int, rate: float) -> Workload:
    """`items` pipelines (4 calls each, plus re-runs), interleaved as concurrent items are in production."""
    repeat_rate = mooncake_repeat_rate(data)
    rng = random.Random(seed)
    rows = shuffled(arena.usable_rows(), seed)[:items]
    pipelines: list[list[WorkRequest]] = []
    extra = []
    for row in rows:
        topic = arena.labelled.prompts[row]
        base = arena.answer(row, BASELINE_MODEL) or ""
        calls = _agent_calls(topic, base, arena.answer(row, SECOND_OPINION) or "", base)
        for _role, messages in calls[1:]:
            extra.append({"prompt": messages[-1]["content"], "answers": arena.answers(row)})
        pipeline = [WorkRequest(messages, role=role, item=f"arena:{row}", quality=QualityKey("arena", row),
                                headers={"x-gateway-agent-role": role}) for role, messages in calls]
        pipelines.append(pipeline)
    # A re-run comes later (a retry of the item, a scheduled re-run), not while the first run is in flight.
    reruns = [[_copy(r) for r in p] for p in pipelines if rng.random() < repeat_rate]
    ordered = _interleave(pipelines + reruns, concurrent=4)
    for request, at in zip(ordered, arrivals(arrival_gaps(data), len(ordered), rate)):
        request.at = at
    return Workload("multi-agent", "research/outline/draft/refine pipeline over real Arena prompts", ordered,
                    policy="multi-agent", replay_files=[str(arena.path)], extra_replay=extra,
                    notes={"items": len(rows), "reruns": len(reruns), "rerun_rate": round(repeat_rate, 4),
                           "rerun_rate_source": "Mooncake conversation trace: requests whose full hash_ids "
                                                "sequence repeats an earlier one"})


def _interleave(pipelines: list[list[WorkRequest]], concurrent: int) -> list[WorkRequest]:
    """Round-robin over `concurrent` items in flight, keeping each item's agents in order."""
    out: list[WorkRequest] = []
    active = [list(p) for p in pipelines[:concurrent]]
    waiting = [list(p) for p in pipelines[concurrent:]]
    while active:
        for pipeline in list(active):
            out.append(pipeline.pop(0))
            if not pipeline:
                active.remove(pipeline)
                if waiting:
                    active.append(waiting.pop(0))
    return out


def _copy(request: WorkRequest) -> WorkRequest:
    return WorkRequest(request.messages, role=request.role, item=request.item, quality=request.quality,
                       headers=dict(request.headers))
