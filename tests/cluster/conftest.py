"""A real local Ray cluster for the cluster tests (tools.local_ray): a head, and a second node on demand."""

from __future__ import annotations

import contextlib
import os
import shutil
import time

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


@pytest.fixture(scope="session")
def ray_head():
    head = start_head(HEAD_CPUS)
    try:
        yield head
    finally:
        with contextlib.suppress(Exception):
            import ray

            ray.shutdown()
        head.stop()


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
