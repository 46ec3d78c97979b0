"""Settings of the simulated upstream, shared by the CLI, the demo, the tests and the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass, field

# The fault names the simulator understands; anything else in a header, metadata or rate table is rejected early so a
# typo in a benchmark setup does not silently run without faults.
FAULT_NAMES: tuple[str, ...] = ("429", "500", "503", "reset", "timeout", "stream-cut", "malformed-chunk")


@dataclass
class SimOptions:
    """How the simulator behaves.

    `latency=False` answers immediately (benchmarks measure the gateway, not the pretend model); `speed` multiplies
    every model's tokens per second and divides its time to first token. `fault_rates` maps a fault name from
    FAULT_NAMES to the probability that a request gets it. `require_key` makes the simulator check
    `Authorization: Bearer <key>` like a real provider would. `max_answer_tokens` caps generated (not replayed)
    answers.
    """

    latency: bool = True
    speed: float = 1.0
    replay_paths: list[str] = field(default_factory=list)
    fault_rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    require_key: str | None = None
    max_answer_tokens: int = 1024
    # How long the `timeout` fault holds a request before giving up on it (it is cancelled at shutdown anyway).
    timeout_fault_seconds: float = 3600.0

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError("speed must be positive")
        if self.max_answer_tokens < 1:
            raise ValueError("max_answer_tokens must be at least 1")
        for name, rate in self.fault_rates.items():
            if name not in FAULT_NAMES:
                raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(FAULT_NAMES)}")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"fault rate for {name!r} must be between 0 and 1, got {rate}")
        if sum(self.fault_rates.values()) > 1.0 + 1e-9:
            raise ValueError("fault rates add up to more than 1")
