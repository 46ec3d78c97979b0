"""The `gateway` command: `serve` the gateway, run the `sim`ulated upstream, run the `demo`, or manage `keys`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from gateway.config.yaml_source import ConfigError


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("GATEWAY_LOG_LEVEL", "INFO").upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("faiss").setLevel(logging.WARNING)  # its loader reports which CPU build it picked, at INFO
    try:
        return args.run(args) or 0
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the OpenAI-compatible gateway")
    serve.add_argument("--config", help="YAML config (default: embedded defaults, see config.example.yaml)")
    serve.add_argument("--host", help="listen address (default: server.host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="listen port (default: server.port, 8080)")
    serve.add_argument("--upstream", help="send every provider's traffic to this OpenAI-compatible base URL "
                                          "(e.g. the simulator: http://127.0.0.1:8090/v1)")
    serve.set_defaults(run=_serve)

    from gateway.sim import add_sim_arguments

    sim = commands.add_parser("sim", help="run the simulated OpenAI-compatible upstream")
    add_sim_arguments(sim)
    sim.set_defaults(run=_sim)

    policy = commands.add_parser("policy", help="check policy files, or explain the decision for a request")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    check = policy_commands.add_parser("check", help="report every mistake in policy files, with file and line")
    check.add_argument("files", nargs="+", metavar="FILE")
    check.add_argument("--config", help="config whose model catalog the policies may name (default: built-in)")
    check.set_defaults(run=_policy_check)
    explain = policy_commands.add_parser("explain", help="the analysis, matched rule, priced options and choice")
    explain.add_argument("--config", help="YAML config (default: embedded defaults)")
    explain.add_argument("--request", required=True, help="a chat-completion request body (JSON file, - for stdin)")
    explain.add_argument("--policy", help="policy name (as x-gateway-policy would select it)")
    explain.add_argument("--agent-role", help="as x-gateway-agent-role would say")
    explain.add_argument("--json", action="store_true", help="print the /v1/gateway/evaluate JSON instead")
    explain.set_defaults(run=_policy_explain)

    from gateway.limits.keys_cli import add_keys_arguments

    add_keys_arguments(commands.add_parser("keys", help="create a client key (printed once) or hash one"))

    demo = commands.add_parser("demo", help="start the simulator and the gateway, replay a workload, print costs")
    demo.add_argument("--requests", type=int, default=200, help="how many requests to replay (default 200)")
    demo.add_argument("--workload", default="multi-agent", help="multi-agent (default), long-sessions, repeats, "
                                                                 "multi-part or arena-single")
    demo.add_argument("--report", default="gateway-demo-report.html", help="where to write the HTML report")
    demo.add_argument("--json", action="store_true", help="print the report as one JSON object on the last line")
    demo.set_defaults(run=_demo)
    return parser


def _serve(args: argparse.Namespace) -> int:
    from gateway.config.settings import load_settings
    from gateway.server.app import run_gateway

    settings = load_settings(args.config, upstream_override=args.upstream)
    run_gateway(settings, args.host or settings.server.host,
                args.port if args.port is not None else settings.server.port)
    return 0


def _sim(args: argparse.Namespace) -> int:
    from gateway.sim import run_sim_from_args

    run_sim_from_args(args)
    return 0


def _policy_check(args: argparse.Namespace) -> int:
    from gateway.config.settings import load_settings
    from gateway.policy.loader import Catalog, check_policy_files

    issues = check_policy_files(args.files, Catalog.from_settings(load_settings(args.config)))
    for issue in issues:
        print(issue)
    print(f"{len(args.files)} file(s) checked: " + (f"{len(issues)} problem(s)" if issues else "no problems"))
    return 1 if issues else 0


def _policy_explain(args: argparse.Namespace) -> int:
    import orjson

    from gateway.config.settings import load_settings
    from gateway.decision.decider import Caller
    from gateway.decision.plan import requested_model
    from gateway.decision.report import decision_report, explain_text
    from gateway.server.errors import APIError
    from gateway.server.state import GatewayState
    from gateway.server.validation import validate_chat_request

    raw = sys.stdin.buffer.read() if args.request == "-" else open(args.request, "rb").read()
    state = GatewayState.create(load_settings(args.config))
    try:
        request = validate_chat_request(orjson.loads(raw))
        caller = Caller.from_request({}, request)
        caller = Caller(agent_role=args.agent_role or caller.agent_role, task_hint=caller.task_hint,
                        policy=args.policy)
        report = decision_report(state.decider.decide(request, requested_model(request, state.settings), caller))
    except (APIError, orjson.JSONDecodeError) as exc:
        print(f"invalid request: {getattr(exc, 'message', exc)}", file=sys.stderr)
        return 2
    print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() if args.json else explain_text(report))
    return 0


def _demo(args: argparse.Namespace) -> int:
    from gateway.demo import run_demo

    return run_demo(args.requests, args.report, args.workload, args.json)


if __name__ == "__main__":
    sys.exit(main())
