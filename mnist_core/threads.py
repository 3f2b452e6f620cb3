"""How many CPUs this process has, and TensorFlow's CPU thread pools sized for them before TensorFlow starts.

TensorFlow keeps ONE intra-op pool (threads that split a kernel, such as a convolution, into pieces) and ONE
inter-op pool (threads that run ops) per process, and every training job in the server draws on both: jobs that
run at once queue their work on the same threads rather than each bringing its own (checked by counting
threads: each further job adds the same six, its own and its input pipeline's, whatever the pool sizes). So the
pools are sized for the machine, not divided among the jobs; what keeps the CPUs from being oversubscribed is
the limit on jobs running at once (mnist_core.slots) and pools that match the CPUs the process may really use,
which is not what TensorFlow counts in a container with a CPU quota (every core of the host).
"""

from __future__ import annotations

import math
import os
from collections.abc import MutableMapping
from pathlib import Path

INTRA_ENV = "TF_NUM_INTRAOP_THREADS"
INTER_ENV = "TF_NUM_INTEROP_THREADS"
CGROUP = Path("/sys/fs/cgroup")


def cgroup_cpu_quota(root: Path = CGROUP) -> float | None:
    """CPUs' worth of time per second that a cgroup quota allows (v2 or v1); None if unlimited or unknown."""
    try:
        if (root / "cpu.max").is_file():
            quota, period = (root / "cpu.max").read_text().split()[:2]
            return None if quota == "max" else int(quota) / int(period)
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 else None
    except (OSError, ValueError):
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
    # Intra-op: every CPU. The pool is shared, so the running jobs split these threads among themselves; a pool
    # of cpus // limit would leave cores idle whenever fewer than `limit` jobs run (one job alone, most of the
    # time). Inter-op: a job's train step is a chain of ops that run one after another, so one thread per job
    # that may run, plus one for the input pipeline and evaluation, never more than the CPUs. On 2 CPUs both
    # equal TensorFlow's own defaults (which are the CPUs it counts).
    return cpus, max(1, min(cpus, limit + 1))


def configure_tensorflow_threads(
    limit: int, cpus: int | None = None, environ: MutableMapping[str, str] | None = None
) -> tuple[int, int]:
    """Set TF_NUM_INTRAOP_THREADS and TF_NUM_INTEROP_THREADS unless already set; return the sizes in effect.

    TensorFlow reads them once, when it starts its runtime, so this must run before anything imports
    TensorFlow (mnist_core's import does it). Set either variable yourself to override it; 0 in the result
    means TensorFlow picks the size itself (an unset, unusable or non-positive value).
    """
    environ = os.environ if environ is None else environ
    intra, inter = thread_counts(cpus if cpus is not None else cpu_count(), limit)
    environ.setdefault(INTRA_ENV, str(intra))
    environ.setdefault(INTER_ENV, str(inter))
    return _pool_size(environ[INTRA_ENV]), _pool_size(environ[INTER_ENV])


def _pool_size(raw: str) -> int:
    """The size TensorFlow will take from a variable's value; 0 where it ignores it and picks its own."""
    try:
        return max(0, int(raw))
    except ValueError:
        return 0
