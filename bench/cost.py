"""The cost benchmark: replay a workload as asked (straight to the simulator) and through the gateway, and report
the saving, by mechanism, with the quality kept and the added latency. `gateway demo` is the quick version.

    python bench/cost.py --workload multi-agent --requests 200 [--policy P] [--config FILE] [--seed N] [--json]
    python bench/cost.py --workload all --requests 120 --json
    python bench/cost.py --replay FILE... --requests 100   # single prompts from any replay file (arena format)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.costbench.measure import measure  # noqa: E402
from gateway.costbench.report import text_report  # noqa: E402
from gateway.workloads import NAMES  # noqa: E402
from gateway.workloads.custom import from_replay_files  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workload", default="multi-agent", choices=[*NAMES, "all"])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--policy", help="policy for the gateway pass (default: the workload's own)")
    parser.add_argument("--config", help="gateway config, e.g. another catalog (default: embedded defaults)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=20.0, help="mean arrival rate, requests/s (trace-shaped)")
    parser.add_argument("--replay", nargs="+", metavar="FILE", help="build the workload from these replay files")
    parser.add_argument("--json", action="store_true", help="print the report(s) as one JSON object, last line")
    args = parser.parse_args(argv)
    names = NAMES if args.workload == "all" else (args.workload,)
    reports = {}
    for name in names:
        workload = from_replay_files(args.replay, args.requests, args.seed, args.rate) if args.replay else None
        report = measure(name, args.requests, seed=args.seed, rate=args.rate, config=args.config,
                         policy=args.policy, workload=workload, progress=not args.json)
        report.pop("series")
        reports[report["workload"]] = report
        print(text_report(report) + "\n", file=sys.stderr if args.json else sys.stdout)
    if args.json:
        print(json.dumps(next(iter(reports.values())) if len(reports) == 1 else {"workloads": reports}))
    return 0 if all(r["failed"] == 0 for r in reports.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
