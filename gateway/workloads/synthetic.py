"""The workload used when no data folder is set: template prompts, labelled synthetic, quality not measured."""

from __future__ import annotations

from gateway.workloads.model import WorkRequest, Workload
from gateway.workloads.multi_agent import ROLE_PROMPTS

_TOPICS = ("a binary search in Python", "the causes of the French Revolution", "how vaccines train the immune system",
           "a haiku about autumn rain", "the difference between TCP and UDP", "photosynthesis for a ten-year-old",
           "a SQL query for the top 5 customers by revenue", "the pros and cons of microservices")


def build(count: int, rate: float) -> Workload:
    """A research/outline/draft/refine pipeline over template topics, at a steady `rate`."""
    requests = []
    for i in range(count):
        role = tuple(ROLE_PROMPTS)[i % 4]
        topic = _TOPICS[(i // 4) % len(_TOPICS)]
        messages = [{"role": "system", "content": ROLE_PROMPTS[role]},
                    {"role": "user", "content": f"{role.capitalize()} for a piece on {topic} (item {i // 4})."}]
        requests.append(WorkRequest(messages, at=i / rate, role=role, item=f"synthetic:{i // 4}",
                                    headers={"x-gateway-agent-role": role}))
    return Workload("synthetic", "SYNTHETIC template prompts (GATEWAY_DATA_DIR not set): quality not measured",
                    requests, policy="multi-agent", synthetic=True)
