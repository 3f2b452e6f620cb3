"""Where a training step's time goes, op by op: TensorFlow's profiler around a fit, its kernels summed by type.

Each TensorFlow op that ran appears in the trace as `node name:kernel`, on the thread that ran it: inter-op
threads (`tf_Compute`), tf.data's threads and the Python thread. Durations are wall time on that thread, so
two ops running at once on the two inter-op threads both count in full, and an op that waits for the
intra-op pool counts its wait.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from collections.abc import Callable

from mnist_core.compat.keras_workarounds import profile_planes

HOST_PLANE = "/host:CPU"
EXECUTOR = "ExecutorState::Process"  # an inter-op thread running a step's ops, the ops nested in it


def op_profile(fit: Callable[[], None], steps: float, top: int = 12) -> dict:
    """Run `fit` (`steps` full batches' worth of examples) under the profiler; ms per batch by kernel and thread."""
    import tensorflow as tf

    with tempfile.TemporaryDirectory() as log_dir:
        tf.profiler.experimental.start(log_dir)
        started = time.perf_counter()
        try:
            fit()
        finally:
            wall = time.perf_counter() - started
            tf.profiler.experimental.stop()
        space = profile_planes(log_dir)
    kernels, calls, busy = kernel_times(space)
    shown = kernels.most_common(top)

    def ms(ps: int) -> float:
        return round(ps / 1e9 / steps, 4)  # 0.1 us: the input pipeline's slicing kernels take well under 1 us

    return {
        "steps": round(steps, 3),
        "wall_ms_per_step": round(wall * 1000 / steps, 3),
        "inter_op_threads_busy_ms_per_step": [ms(ps) for ps in sorted(busy.values(), reverse=True)],
        "kernel_ms_per_step": {name: ms(ps) for name, ps in shown},
        "kernel_calls_per_step": {name: round(calls[name] / steps, 3) for name, _ in shown},
        "other_kernels_ms_per_step": ms(sum(kernels.values()) - sum(ps for _, ps in shown)),
    }


def kernel_times(space) -> tuple[Counter, Counter, Counter]:
    """Picoseconds and calls per kernel type (`_MklNativeConv2DBackpropFilter`, `GatherV2`); picoseconds per
    inter-op thread."""
    kernels: Counter = Counter()
    calls: Counter = Counter()
    busy: Counter = Counter()
    for plane in space.planes:
        if plane.name != HOST_PLANE:
            continue
        names = {key: meta.name for key, meta in plane.event_metadata.items()}
        for line in plane.lines:
            for event in line.events:
                name = names.get(event.metadata_id, "")
                if name == EXECUTOR and line.name.startswith("tf_Compute"):
                    busy[line.name] += event.duration_ps
                    continue
                node, _, kernel = name.rpartition(":")
                if node and kernel and not kernel.startswith(" ") and not node.endswith(":"):
                    kernels[kernel] += event.duration_ps
                    calls[kernel] += 1
    return kernels, calls, busy
