"""A real local Ray cluster for the cluster tests: a head (and, on demand, a second node) on this machine.

`ray start --block` runs in the foreground here and ends the node's processes when it is terminated, so the
tests stop exactly the nodes they started (`ray stop` would end every Ray process of the machine).
The head runs Ray's dashboard on loopback only because Ray's state API (which lists the actors) is served by it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

HEAD_CPUS = 2
START_SECONDS = 120


def _ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return shutil.which("ray") is not None


if not _ray_available():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install requirements-cluster.txt (Ray) for the cluster tests")
    pytest.skip("Ray is not installed (pip install -r requirements-cluster.txt)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RayNode:
    process: subprocess.Popen
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)


@dataclass
class RayHead(RayNode):
    address: str
    dashboard: str
    temp_dir: str


def _start(args: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    with log.open("wb") as out:
        return subprocess.Popen(
            ["nice", "-n", "10", "ray", "start", *args, "--disable-usage-stats", "--block"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )


def _wait(check, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ray start ended early:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.5)
    raise RuntimeError(f"ray start did not come up in time:\n{log.read_text()[-3000:]}")


def alive_hosts(head: RayHead) -> list:
    """The run actors Ray's state API lists as alive (or about to be)."""
    from ray.util.state import list_actors

    actors = list_actors(address=head.dashboard, limit=10_000)  # filtered here, as in nodes_alive
    return [a for a in actors if a.class_name == "RunHost" and a.state != "DEAD"]


def nodes_alive(head: RayHead) -> int:
    from ray.util.state import list_nodes

    # Filtered in Python: with a server-side filter Ray 2.60 counts the nodes left out as truncated and raises.
    return sum(node.state == "ALIVE" for node in list_nodes(address=head.dashboard, limit=100))


@pytest.fixture(scope="session")
def ray_head():
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths live under it
    port, dashboard = free_port(), free_port()
    log = Path(temp) / "head.log"
    args = ["--head", "--port", str(port), "--num-cpus", str(HEAD_CPUS), "--temp-dir", temp]
    args += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", "--dashboard-port", str(dashboard)]
    process = _start(args, log)
    url = f"http://127.0.0.1:{dashboard}"
    head = RayHead(process, log, f"127.0.0.1:{port}", url, temp)
    try:
        _wait(lambda: urllib.request.urlopen(f"{url}/api/version", timeout=2).status == 200, process, log)
        yield head
    finally:
        with contextlib.suppress(Exception):
            import ray

            ray.shutdown()
        head.stop()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def second_node(ray_head):
    """A second Ray node on this machine, joined to the head; stopped at the end of the test."""
    log = Path(ray_head.temp_dir) / f"node-{time.monotonic_ns()}.log"
    process = _start(["--address", ray_head.address, "--num-cpus", str(HEAD_CPUS)], log)
    node = RayNode(process, log)
    try:
        _wait(lambda: nodes_alive(ray_head) >= 2, process, log)
        yield node
    finally:
        node.stop()
        deadline = time.monotonic() + 60
        while nodes_alive(ray_head) > 1 and time.monotonic() < deadline:
            time.sleep(0.5)


@pytest.fixture
def on_cluster(ray_head, monkeypatch):
    """MNIST_LIVE_RAY_ADDRESS points at the test head: new runs train there."""
    monkeypatch.setenv("MNIST_LIVE_RAY_ADDRESS", ray_head.address)
    monkeypatch.setenv("MNIST_LIVE_RAY_CPUS", str(HEAD_CPUS))
    return ray_head
