"""A local Ray cluster on this machine for the cluster tests and benchmark: a head and more nodes, each stopped alone.

`ray start --block` runs in the foreground and ends its node's processes when it is terminated, so whoever
started a node stops exactly that one (`ray stop` would end every Ray process of the machine). The head runs
Ray's dashboard on loopback only: Ray's state API, which lists the actors, is served by it.
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
from dataclasses import dataclass, field
from pathlib import Path

START_SECONDS = 120


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
    address: str = ""
    dashboard: str = ""
    temp_dir: str = ""
    client: str = ""  # the Ray Client address (ray://)
    nodes: list[RayNode] = field(default_factory=list)

    def add_node(self, cpus: int) -> RayNode:
        """Join one more node with `cpus` CPUs to this head and wait until Ray counts it."""
        log = Path(self.temp_dir) / f"node-{len(self.nodes) + 1}.log"
        expected = nodes_alive(self) + 1
        node = RayNode(_start(["--address", self.address, "--num-cpus", str(cpus)], log), log)
        self.nodes.append(node)
        _wait(lambda: nodes_alive(self) >= expected, node.process, log)
        return node

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        super().stop()
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def start_head(cpus: int) -> RayHead:
    """A head node with `cpus` CPUs on free ports and a temporary directory of its own; running when returned."""
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")  # short: Ray's socket paths live under it
    port, dashboard, client = free_port(), free_port(), free_port()
    log = Path(temp) / "head.log"
    args = ["--head", "--port", str(port), "--num-cpus", str(cpus), "--temp-dir", temp]
    args += ["--ray-client-server-port", str(client)]
    args += ["--include-dashboard=true", "--dashboard-host=127.0.0.1", "--dashboard-port", str(dashboard)]
    url = f"http://127.0.0.1:{dashboard}"
    head = RayHead(_start(args, log), log, f"127.0.0.1:{port}", url, temp, client=f"ray://127.0.0.1:{client}")
    try:
        _wait(lambda: urllib.request.urlopen(f"{url}/api/version", timeout=2).status == 200, head.process, log)
        _wait(lambda: socket.create_connection(("127.0.0.1", client), timeout=2).close() is None, head.process, log)
    except BaseException:
        head.stop()
        raise
    return head


def alive_hosts(head: RayHead) -> list:
    """The run actors (mnist_core.cluster.host.RunHost) Ray's state API lists as not dead."""
    from ray.util.state import list_actors

    # Filtered here: with a server-side filter Ray 2.60 counts what it leaves out as truncated and raises.
    actors = list_actors(address=head.dashboard, limit=10_000)
    return [a for a in actors if a.class_name == "RunHost" and a.state != "DEAD"]


def nodes_alive(head: RayHead) -> int:
    from ray.util.state import list_nodes

    return sum(node.state == "ALIVE" for node in list_nodes(address=head.dashboard, limit=100))


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
