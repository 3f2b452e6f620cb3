"""Shared fixtures: the real MNIST (from $MNIST_NPZ_PATH or the shared copy next to the repo) and small slices of it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

# Tests run jobs one after another; a limit above the default (1 on 2 CPUs) keeps a test whose job is still
# finishing from queueing the next test's job. The queue itself is tested with its own JobSlots.
os.environ.setdefault("MNIST_LIVE_MAX_JOBS", "4")

import mnist_core  # noqa: F401 - sets TensorFlow's environment before anything imports it
from mnist_core.data import ENV_VAR, Mnist, Split, load_mnist

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist.npz"

if not os.environ.get(ENV_VAR) and SHARED_MNIST.is_file():
    os.environ[ENV_VAR] = str(SHARED_MNIST)


@pytest.fixture(scope="session")
def mnist() -> Mnist:
    if not os.environ.get(ENV_VAR):
        pytest.fail(f"Set {ENV_VAR} to a local mnist.npz: these machines cannot download MNIST.")
    return load_mnist()


def small(data: Mnist, n_train: int, n_test: int = 500) -> Mnist:
    """The first n_train training and n_test test images, for quick jobs."""
    return Mnist(
        train=Split(data.train.x[:n_train], data.train.y[:n_train]),
        validation=Split(data.validation.x[:n_test], data.validation.y[:n_test]),
        test=Split(data.test.x[:n_test], data.test.y[:n_test]),
        source="slice",
    )


@pytest.fixture(scope="session")
def tiny(mnist) -> Mnist:
    return small(mnist, 2000)


def wait_until(predicate, timeout: float = 120.0, step: float = 0.05) -> bool:
    """Poll `predicate` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    raise AssertionError("condition not reached in time")
