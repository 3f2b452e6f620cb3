"""A real local Ray cluster for the cluster tests (tools.local_ray): a head, and a second node on demand."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import time
import warnings
from pathlib import Path

import pytest

HEAD_CPUS = 2


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

from tools.local_ray import RayHead, alive_hosts, free_port, nodes_alive, start_head  # noqa: E402

__all__ = ["alive_hosts", "free_port"]


class _Heads:
    """The session's head, started again if it has died before a test while this process was not joined to it."""

    def __init__(self):
        self.head = start_head(HEAD_CPUS)

    def current(self) -> RayHead:
        import ray

        if not _running(self.head) and not ray.is_initialized():
            # Once in a clean-clone run the head's processes were gone before the first cluster test; its log
            # says why, and a new head lets the tests test the app rather than that crash.
            logs = [self.head.log, *Path(self.head.temp_dir).glob("session_*/logs/ray_process_exit.log")]
            log = "\n".join(f.read_text(errors="replace")[-3000:] for f in logs if f.exists()) or "(no log)"
            warnings.warn(f"the test Ray head had ended; starting another. Its log:\n{log}", stacklevel=2)
            self.head.stop()
            self.head = start_head(HEAD_CPUS)
        return self.head


def _running(head: RayHead) -> bool:
    """Its `ray start --block` still runs (it ends when a process of its node dies) and its GCS port answers."""
    if head.process.poll() is not None:
        return False
    host, _, port = head.address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError:
        return False
    return True


@pytest.fixture(scope="session")
def _heads():
    heads = _Heads()
    try:
        yield heads
    finally:
        with contextlib.suppress(Exception):
            import ray

            ray.shutdown()
        heads.head.stop()


@pytest.fixture
def ray_head(_heads: _Heads) -> RayHead:
    """The session's local Ray head, running."""
    return _heads.current()


@pytest.fixture
def second_node(ray_head: RayHead):
    """A second Ray node on this machine, joined to the head; stopped at the end of the test."""
    node = ray_head.add_node(HEAD_CPUS)
    try:
        yield node
    finally:
        node.stop()
        ray_head.nodes.remove(node)
        deadline = time.monotonic() + 60
        while nodes_alive(ray_head) > 1 and time.monotonic() < deadline:
            time.sleep(0.5)


@pytest.fixture
def on_cluster(ray_head, monkeypatch):
    """MNIST_LIVE_RAY_ADDRESS points at the test head: new runs train there."""
    monkeypatch.setenv("MNIST_LIVE_RAY_ADDRESS", ray_head.address)
    monkeypatch.setenv("MNIST_LIVE_RAY_CPUS", str(HEAD_CPUS))
    return ray_head
