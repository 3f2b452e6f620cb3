"""Training runs at a lower CPU priority than the server's page work, so pages stay quick while jobs train.

A page load, a widget's rerun or a drawing's prediction takes the server a fraction of a second of CPU; a job
would take every core for minutes. At a lower priority (a higher nice value) the jobs get whatever CPU the pages
leave, and a page never waits behind an epoch. On Linux a nice value belongs to a thread, and the arithmetic of
every job runs in TensorFlow's pool threads, which TensorFlow starts itself and all jobs share: the training
thread lowers its own priority (threads it starts, such as tf.data's, inherit it) and those of the threads
Python did not start. Priorities only go down: an unprivileged process cannot raise them back, and no thread
here needs it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping

NICE_VARIABLE = "MNIST_LIVE_TRAINING_NICE"
DEFAULT_NICE = 10  # weight 110 against a page's 1024: a job gets ~10% of a core a page is busy on
MAX_NICE = 19


def training_nice(environ: Mapping[str, str] | None = None) -> int:
    """The nice value training threads run at: MNIST_LIVE_TRAINING_NICE (0-19; 0 turns this off), else 10."""
    raw = (os.environ if environ is None else environ).get(NICE_VARIABLE, "")
    try:
        return min(MAX_NICE, max(0, int(raw)))
    except ValueError:
        return DEFAULT_NICE


def thread_nice(tid: int) -> int | None:
    """A thread's nice value (its native id); None where it cannot be read."""
    try:
        return os.getpriority(os.PRIO_PROCESS, tid)
    except (AttributeError, OSError):  # not a POSIX system, or the thread has ended
        return None


def lower_thread(tid: int, nice: int) -> bool:
    """Raise thread `tid`'s nice value to `nice` unless it is there already; True if it changed."""
    current = thread_nice(tid)
    if current is None or current >= nice:
        return False
    try:
        os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError:  # the thread ended meanwhile, or the system forbids it: it just runs at its priority
        return False
    return True


def native_threads(task_dir: str = "/proc/self/task") -> list[int]:
    """Native ids of this process's threads that Python did not start (TensorFlow's pools); [] off Linux."""
    try:
        tids = {int(name) for name in os.listdir(task_dir)}
    except OSError:
        return []
    return sorted(tids - {thread.native_id for thread in threading.enumerate()})


def lower_training_priority(nice: int | None = None) -> int:
    """Put the calling thread and TensorFlow's pool threads at the training priority; how many changed."""
    nice = training_nice() if nice is None else nice
    if nice <= 0:
        return 0
    return sum(lower_thread(tid, nice) for tid in [threading.get_native_id(), *native_threads()])
