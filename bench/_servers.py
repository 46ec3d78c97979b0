"""Servers under test as child processes: start, wait until ready, read their CPU time, always stop them.

Each server runs in its own process (and process group) so that its CPU time can be read from /proc without the
load generator's own work leaking into it, and so that stopping it also stops any workers it forked.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    """A port the kernel says is free right now (bind to 0); the tiny reuse race is acceptable on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may itself contain spaces and parentheses)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return raw[raw.rindex(")") + 2:].split()


def _descendants(pid: int) -> list[int]:
    """Live descendants of `pid`, so a server that forks workers is charged for all of them."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found.extend(kids)
        todo.extend(kids)
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process tree, in seconds (all threads included, per /proc/<pid>/stat)."""
    ticks = 0
    for member in [pid, *_descendants(pid)]:
        fields = _stat_fields(member)
        if fields is not None:  # utime and stime are fields 14 and 15 of stat; we dropped the first two
            ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICKS_PER_SECOND


@dataclass
class Server:
    """One server child process, its address and its log file."""

    name: str
    argv: list[str]
    port: int
    health_path: str | None = None
    log_path: Path | None = None
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL (ending in /v1), as clients and the gateway's --upstream expect."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} is not running"
        return self.proc.pid

    def start(self, log_dir: Path, timeout: float = 60.0) -> None:
        """Spawn the process with output to a log file (a full pipe would stall it) and wait until it serves."""
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{self.name}.log"
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                                           os.environ.get("PYTHONPATH")]))}
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env,
                                         start_new_session=True)
        self._wait_ready(timeout)

    def _wait_ready(self, timeout: float) -> None:
        """Poll until the port accepts connections and, if there is one, the health path answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}")
            if self._is_ready():
                return
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def _is_ready(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            if self.health_path is None:
                return True
            url = f"http://127.0.0.1:{self.port}{self.health_path}"
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def log_tail(self, lines: int = 30) -> str:
        """The end of the server's log, for error messages that explain themselves."""
        if self.log_path is None or not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL at once, no grace: a crash, for the fault suite (safe when it is not running)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                return
            self.proc.wait()

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the whole process group, then SIGKILL what is left; safe to call twice or after a crash."""
        if self.proc is None or self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, grace)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def sim_server(port: int) -> Server:
    """The simulated upstream, answering without a latency model so only software overhead is left."""
    argv = [sys.executable, "-m", "gateway.cli", "sim", "--host", "127.0.0.1", "--port", str(port), "--no-latency"]
    return Server("sim", argv, port)


def redis_server(port: int) -> Server:
    """A throw-away redis-server of the caller's own (no persistence), which it may kill and start again."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
    return Server("redis", argv, port)


def passthrough_server(port: int, upstream: str) -> Server:
    """The bare aiohttp reference proxy from bench/passthrough.py."""
    script = Path(__file__).resolve().parent / "passthrough.py"
    argv = [sys.executable, str(script), "--host", "127.0.0.1", "--port", str(port), "--upstream", upstream]
    return Server("passthrough", argv, port, health_path="/healthz")


def gateway_server(port: int, upstream: str, config: Path, extra: list[str] | None = None) -> Server:
    """The gateway itself; `extra` lets a caller wrap it (e.g. to profile) without changing its arguments."""
    argv = [sys.executable, *(extra or []), "-m", "gateway.cli", "serve", "--config", str(config),
            "--host", "127.0.0.1", "--port", str(port), "--upstream", upstream]
    return Server("gateway", argv, port, health_path="/healthz")
