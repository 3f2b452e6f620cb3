"""Training threads run at a lower CPU priority than the server's page work (mnist_core.priority)."""

from __future__ import annotations

import os
import threading

import pytest

from mnist_core.job import TrainingJob
from mnist_core.priority import (
    DEFAULT_NICE,
    NICE_VARIABLE,
    lower_thread,
    lower_training_priority,
    native_threads,
    thread_nice,
    training_nice,
)
from mnist_core.settings import TrainSettings
from tests.conftest import wait_until

linux_threads = pytest.mark.skipif(not os.path.isdir("/proc/self/task"), reason="per-thread priorities: Linux")


@pytest.mark.parametrize(
    ("raw", "nice"),
    [(None, DEFAULT_NICE), ("5", 5), ("0", 0), ("", DEFAULT_NICE), ("fast", DEFAULT_NICE), ("-3", 0), ("99", 19)],
)
def test_the_training_priority_comes_from_the_environment(raw, nice):
    assert training_nice({} if raw is None else {NICE_VARIABLE: raw}) == nice


class _Parked:
    """A Python thread that waits until told to end; its native id."""

    def __enter__(self) -> int:
        self._go, self._ready = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._wait, daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self._thread.native_id

    def _wait(self) -> None:
        self._ready.set()
        self._go.wait(30)

    def __exit__(self, *exc) -> None:
        self._go.set()
        self._thread.join(10)


@linux_threads
def test_a_thread_is_lowered_once_and_never_raised_back():
    main_before = thread_nice(threading.get_native_id())
    with _Parked() as tid:
        assert lower_thread(tid, 7)
        assert thread_nice(tid) == 7
        assert not lower_thread(tid, 7)
        assert not lower_thread(tid, 3)  # never back up: an unprivileged server could not anyway
        assert thread_nice(tid) == 7
    assert thread_nice(threading.get_native_id()) == main_before
    assert not lower_thread(2**22 + 12345, 7)  # no such thread: nothing to do, no error


@linux_threads
def test_native_threads_are_the_ones_python_did_not_start(tiny):
    python = {t.native_id for t in threading.enumerate()}
    native = native_threads()
    assert native, "TensorFlow's pool threads, started by the import and the first ops"
    assert not python & set(native)
    assert native_threads("/no/such/dir") == []


@linux_threads
def test_a_training_job_and_tensorflows_pools_run_below_the_page_thread(tiny):
    main_before = thread_nice(threading.get_native_id())
    job = TrainingJob(TrainSettings(batch_size=50, epochs=50, seed=0), tiny)
    job.start()
    try:
        wait_until(lambda: job.state.snapshot().examples_seen > 0)
        (trainer,) = [t for t in threading.enumerate() if t.name == "mnist-live-training"]
        job_nice = thread_nice(trainer.native_id)
        pools = {tid: thread_nice(tid) for tid in native_threads()}
    finally:
        job.stop()
        assert job.join(60)
    assert job_nice == training_nice() == DEFAULT_NICE
    assert pools and all(nice is None or nice >= DEFAULT_NICE for nice in pools.values()), pools
    assert thread_nice(threading.get_native_id()) == main_before  # this (page) thread keeps its priority


def test_a_training_priority_of_zero_changes_nothing():
    with _Parked():
        assert lower_training_priority(0) == 0
