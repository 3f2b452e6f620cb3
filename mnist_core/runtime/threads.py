"""How many CPUs this process has, and TensorFlow's CPU thread pools sized for them before TensorFlow starts.

TensorFlow keeps ONE intra-op pool (threads that split a kernel, such as a convolution, into pieces) and ONE
inter-op pool (threads that run ops) per process, and every training job in the server draws on both: jobs that
run at once queue their work on the same threads rather than each bringing its own (checked by counting
threads: each further job adds the same six, its own and its input pipeline's, whatever the pool sizes). So the
pools are sized for the machine, not divided among the jobs; what keeps the CPUs from being oversubscribed is
the limit on jobs running at once (mnist_core.runtime.queue) and pools that match the CPUs the process may really use,
which is not what TensorFlow counts in a container with a CPU quota (every core of the host).
"""

from __future__ import annotations

import logging
import math
import os
import unicodedata
from collections.abc import Mapping, MutableMapping
from pathlib import Path

INTRA_ENV = "TF_NUM_INTRAOP_THREADS"
INTER_ENV = "TF_NUM_INTEROP_THREADS"
CGROUP = Path("/sys/fs/cgroup")
# TensorFlow starts every thread it is told to: beyond a few per CPU they only contend (and millions exhaust memory).
MAX_THREADS_PER_CPU = 4
# A batch of 128 in more parts than this leaves each part's convolutions too small to pay for their branch.
MAX_PARTS = 4
_HUGE = 10**18  # stands for a whole number too long for int() (over 4,300 digits): only its size matters here


def cgroup_cpu_quota(root: Path = CGROUP) -> float | None:
    """CPUs' worth of time per second that a cgroup quota allows (v2 or v1); None if unlimited or unknown."""
    try:
        if (root / "cpu.max").is_file():
            quota, period = (root / "cpu.max").read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 else None
    except (OSError, ValueError, ArithmeticError):  # a period of 0, or numbers beyond a float
        return None


def cpu_count(cgroup_root: Path = CGROUP) -> int:
    """CPUs this process may use: its affinity mask, capped by a container's CPU quota (rounded up)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        cpus = os.cpu_count() or 1
    quota = cgroup_cpu_quota(cgroup_root)
    return max(1, min(cpus, math.ceil(quota))) if quota else cpus


def thread_counts(cpus: int, limit: int) -> tuple[int, int]:
    """Intra-op and inter-op threads for at most `limit` jobs at once on `cpus` CPUs."""
    # Intra-op: one. This net's convolutions are too small to split well: with two threads each step kept both
    # cores only half busy. With one thread per kernel the cores go to independent work instead: the parts of a
    # split batch (mnist_core.training.replicas), the jobs running at once and the evaluations beside them.
    # Inter-op: one thread per CPU runs that many of them at once, whatever `limit` is.
    return 1, cpus


def training_parts(environ: Mapping[str, str] | None = None) -> int:
    """How many parts a training batch is split into: one per inter-op thread when each kernel runs on one."""
    environ = os.environ if environ is None else environ
    intra = whole_number(environ.get(INTRA_ENV, ""))
    inter = whole_number(environ.get(INTER_ENV, ""))
    if intra != 1 or inter is None or inter < 1:
        return 1  # kernels split across threads already: parts would only compete with them
    return min(inter, MAX_PARTS)


def configure_tensorflow_threads(
    limit: int, cpus: int | None = None, environ: MutableMapping[str, str] | None = None
) -> tuple[int, int]:
    """Set TF_NUM_INTRAOP_THREADS and TF_NUM_INTEROP_THREADS unless already set; return the sizes in effect.

    TensorFlow reads them once, when it starts its runtime, so this must run before anything imports
    TensorFlow (mnist_core's import does it). Set either variable yourself to override it; 0 in the result
    means TensorFlow picks the size itself (an unset, unusable or non-positive value).
    """
    environ = os.environ if environ is None else environ
    cpus = cpus if cpus is not None else cpu_count()
    intra, inter = thread_counts(cpus, limit)
    environ.setdefault(INTRA_ENV, str(intra))
    environ.setdefault(INTER_ENV, str(inter))
    return _capped_pool(environ, INTRA_ENV, cpus), _capped_pool(environ, INTER_ENV, cpus)


def whole_number(raw: str) -> int | None:
    """The whole number `raw` spells as int() reads it, else None; one too long for int() reads as +-10**18."""
    text = raw.strip()
    digits = text[1:] if text[:1] in "+-" else text
    if len(digits) > 4000 and digits.isdecimal():
        value = _HUGE if any(unicodedata.digit(c) for c in digits) else 0
        return -value if text.startswith("-") else value
    try:
        return int(text)
    except ValueError:
        return None


def shown_env(name: str, raw: str) -> str:
    """`NAME='value'` for a message, the value cut short."""
    return f"{name}={raw if len(raw) <= 40 else raw[:20] + '…'!r}"


def _capped_pool(environ: MutableMapping[str, str], name: str, cpus: int) -> int:
    """The pool size TensorFlow will take from `name`, first capped at MAX_THREADS_PER_CPU per CPU (with a warning).

    0 where TensorFlow ignores the value and picks its own size (unusable or not positive).
    """
    size = whole_number(environ[name])
    if size is None or size < 1:
        return 0
    cap = MAX_THREADS_PER_CPU * cpus
    if size > cap:
        logging.getLogger(__name__).warning(
            "%s asks for more threads than this server allows (at most %d per CPU, %d CPUs); using %d.",
            shown_env(name, environ[name]),
            MAX_THREADS_PER_CPU,
            cpus,
            cap,
        )
        environ[name] = str(cap)  # TensorFlow reads the variable itself, at start
        return cap
    return size
