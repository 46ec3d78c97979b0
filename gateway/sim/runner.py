"""`gateway sim` on the command line: its arguments and a blocking server loop."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
from pathlib import Path

from aiohttp import web

from .app import build_sim_app
from .options import FAULT_NAMES, SimOptions

DEFAULT_PORT = 8090


def _fault_rate(text: str) -> tuple[str, float]:
    name, sep, rate = text.partition("=")
    if not sep or name.strip() not in FAULT_NAMES:
        raise argparse.ArgumentTypeError(f"expected NAME=P with NAME one of {', '.join(FAULT_NAMES)}, got {text!r}")
    try:
        value = float(rate)
    except ValueError:
        raise argparse.ArgumentTypeError(f"fault rate {rate!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"fault rate {value} is not between 0 and 1")
    return name.strip(), value


def default_replay_paths() -> list[str]:
    """`$GATEWAY_DATA_DIR/replay` when that folder exists, else nothing (generated answers only)."""
    data_dir = os.environ.get("GATEWAY_DATA_DIR")
    if data_dir and (Path(data_dir) / "replay").is_dir():
        return [str(Path(data_dir) / "replay")]
    return []


def add_sim_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 = any)")
    parser.add_argument("--no-latency", action="store_true",
                        help="answer immediately instead of simulating time to first token and tokens per second")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="multiply every model's tokens per second (and divide its time to first token)")
    parser.add_argument("--replay", action="append", metavar="DIR_OR_FILE", default=None,
                        help="recorded answers (*.jsonl, arena-bench / alpaca-eval format); repeatable; default: "
                             "$GATEWAY_DATA_DIR/replay if it exists")
    parser.add_argument("--no-replay", action="store_true", help="do not load the default replay folder")
    parser.add_argument("--fault-rate", action="append", type=_fault_rate, metavar="NAME=P", default=[],
                        help=f"inject a fault at random with probability P; NAME is one of {', '.join(FAULT_NAMES)}")
    parser.add_argument("--seed", type=int, default=0, help="seed for generated answers and fault draws")
    parser.add_argument("--require-key", metavar="KEY", default=None,
                        help="only accept requests with 'Authorization: Bearer KEY' (401 otherwise)")
    parser.add_argument("--max-answer-tokens", type=int, default=SimOptions.max_answer_tokens,
                        help="cap on the length of generated (not replayed) answers")


def options_from_args(args: argparse.Namespace) -> SimOptions:
    if args.replay:
        replay = list(args.replay)
    else:
        replay = [] if getattr(args, "no_replay", False) else default_replay_paths()
    return SimOptions(
        latency=not args.no_latency,
        speed=args.speed,
        replay_paths=replay,
        fault_rates=dict(args.fault_rate or []),
        seed=args.seed,
        require_key=args.require_key,
        max_answer_tokens=getattr(args, "max_answer_tokens", SimOptions.max_answer_tokens),
    )


async def serve(options: SimOptions, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM."""
    runner = web.AppRunner(build_sim_app(options), access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = port
    server = getattr(site, "_server", None)
    if server is not None and server.sockets:
        bound_port = server.sockets[0].getsockname()[1]
    print(f"simulator listening on http://{host}:{bound_port}/v1", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # ValueError: not main thread
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def run_sim_from_args(args: argparse.Namespace) -> None:
    """Blocking entry point for `gateway sim` (uses uvloop when it is installed)."""
    options = options_from_args(args)
    try:
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner, contextlib.suppress(KeyboardInterrupt):
        runner.run(serve(options, args.host, args.port))
