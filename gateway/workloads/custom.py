"""A workload from any replay files in the shared format (`prompt` + `answers`/`outputs` + scores): each prompt
once, as asked of the baseline model; quality is scored when the file records scores for the served models."""

from __future__ import annotations

from pathlib import Path

from gateway.routing.data import load_set
from gateway.workloads.model import QualityKey, WorkRequest, Workload
from gateway.workloads.sources import data_dir, shuffled
from gateway.workloads.traces import arrival_gaps, arrivals


def from_replay_files(paths: list[str], count: int, seed: int, rate: float) -> Workload:
    requests: list[WorkRequest] = []
    for path in paths:
        labelled = load_set(path, Path(path).stem)
        for row in shuffled(list(range(len(labelled.prompts))), seed)[:count]:
            requests.append(WorkRequest([{"role": "user", "content": labelled.prompts[row]}],
                                        item=f"{labelled.name}:{row}", quality=QualityKey(labelled.name, row)))
    requests = shuffled(requests, seed)[:count]
    data = data_dir()
    for request, at in zip(requests, arrivals(arrival_gaps(data) if data else [], len(requests), rate)):
        request.at = at
    return Workload("replay-files", f"prompts from {', '.join(paths)}", requests, replay_files=list(paths),
                    notes={"replay_files": list(paths)})
