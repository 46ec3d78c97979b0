"""Shared fixtures: real servers on loopback (the simulator and the gateway) and a real Redis.

In-process servers (aiohttp's test server) serve the async tests with custom configs; subprocess servers started
through the `gateway` command line serve the synchronous SDK tests and prove the CLI works.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"

# Tests use the shared tiktoken cache when it is there; without it the gateway falls back to bpe-openai.
if "TIKTOKEN_CACHE_DIR" not in os.environ and (SHARED / "tiktoken-cache").is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(SHARED / "tiktoken-cache")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(tmp_path: Path, text: str) -> str:
    path = tmp_path / "gateway.yaml"
    path.write_text(text)
    return str(path)


@pytest.fixture
def sim_url(aiohttp_server) -> Callable:
    """Start an in-process simulator (no latency unless asked); returns its /v1 base URL."""
    from gateway.sim import SimOptions, build_sim_app

    async def start(**options) -> str:
        options.setdefault("latency", False)
        server = await aiohttp_server(build_sim_app(SimOptions(**options)))
        return str(server.make_url("/v1"))

    return start


@pytest.fixture
def gateway_url(aiohttp_server, tmp_path) -> Callable:
    """Start an in-process gateway from YAML text (or the embedded defaults); returns its /v1 base URL.

    Proxy tests run under the `as-asked` policy, so what they check is the proxy itself; tests of routing name
    another policy (or write their own `policies:` section)."""
    from gateway.config.settings import load_settings
    from gateway.server.app import create_app

    async def start(upstream: str, config: str | None = None, environ: dict[str, str] | None = None,
                    policy: str | None = "as-asked") -> str:
        if policy and "policies:" not in (config or ""):
            config = (config or "") + f"\npolicies:\n  default: {policy}\n"
        path = write_config(tmp_path, config) if config is not None else None
        env = {**os.environ, **(environ or {})}
        settings = load_settings(path, upstream_override=upstream, environ=env)
        server = await aiohttp_server(create_app(settings))
        return str(server.make_url("/v1"))

    return start


class Process:
    """A `gateway` subcommand in its own process, stopped at teardown."""

    def __init__(self, args: list[str], port: int, env: dict[str, str] | None = None):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "gateway.cli", *args], cwd=REPO,
                                     env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)

    def wait_ready(self, path: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"process exited early:\n{self.proc.stdout.read()}")
            try:
                if httpx.get(self.url + path, timeout=0.5).status_code < 500:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise TimeoutError(f"{self.url}{path} not ready after {timeout}s")

    def stop(self) -> str:
        self.proc.terminate()
        try:
            output, _ = self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            output, _ = self.proc.communicate()
        return output or ""


@pytest.fixture(scope="session")
def cli_stack() -> Iterator[dict[str, Process]]:
    """The simulator and the gateway started from the command line, as a user would."""
    sim_port, gateway_port = free_port(), free_port()
    sim = Process(["sim", "--host", "127.0.0.1", "--port", str(sim_port), "--no-latency"], sim_port)
    sim.wait_ready("/v1/models")
    gateway = Process(["serve", "--config", str(REPO / "config.example.yaml"), "--port", str(gateway_port),
                       "--upstream", sim.url + "/v1"], gateway_port, env={"OPENAI_API_KEY": "sk-upstream-secret"})
    try:
        gateway.wait_ready("/healthz")
        yield {"sim": sim, "gateway": gateway}
    finally:
        gateway.logs = gateway.stop()
        sim.stop()


@pytest.fixture
def redis_url() -> str:
    """A real Redis. Under CI=true an unreachable Redis fails the test instead of skipping it."""
    url = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {url} is unreachable under CI=true: {exc}")
        pytest.skip(f"Redis at {url} is unreachable: {exc}")
    return url


@pytest.fixture
def redis_prefix(redis_url) -> Iterator[str]:
    """A key prefix of this test's own in the shared Redis, with its keys deleted afterwards."""
    import uuid

    import redis

    prefix = "test-" + uuid.uuid4().hex[:10]
    yield prefix
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(prefix + ":*"):
        client.delete(key)
