"""What `gateway serve` does once start-up has loaded everything, checked on a real gateway process."""

from __future__ import annotations

import re
import time

import httpx

from tests.conftest import Process, free_port


def test_the_served_gateway_freezes_its_start_up_heap_once_loaded(tmp_path):
    """A full garbage collection would otherwise walk every start-up object (about 75k) and stall the event loop for
    15-25 ms; after the freeze the served process keeps them out of the collector's view."""
    path = tmp_path / "gateway.yaml"
    path.write_text("policies:\n  default: default\n")
    port = free_port()
    gateway = Process(["serve", "--config", str(path), "--port", str(port), "--upstream", "http://127.0.0.1:9/v1"],
                      port, env={"GATEWAY_LOG_LEVEL": "INFO"})
    try:
        gateway.wait_ready("/healthz")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # the embedder loads after start-up; the freeze follows it
            semantic = httpx.get(gateway.url + "/readyz", timeout=2).json()["cache"]["semantic"]
            if semantic.get("state") != "loading":
                break
            time.sleep(0.2)
        time.sleep(1.0)
    finally:
        logs = gateway.stop()
    frozen = re.search(r"start-up heap frozen: (\d+) objects", logs)
    assert frozen, logs[-3000:]
    assert int(frozen.group(1)) > 10_000
