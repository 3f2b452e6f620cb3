"""Measure the memory of one training step and of a built model: `python -m tools.step_memory` prints JSON.

Each measurement runs in a fresh process (TensorFlow's allocations and glibc's arenas carry over otherwise): the
peak RSS during the first training step at a batch size, over the RSS just before it, sampled every millisecond,
next to what mnist_core.model.budget estimates. tracemalloc does not see TensorFlow's C++ allocations; RSS does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time

from mnist_core.model.architecture import PRESETS, LayerSpec

# A network near the 250,000-values-per-image limit (one wide conv), and one whose values sit in dense layers.
WIDE: list[LayerSpec] = [
    {"type": "conv", "filters": 420, "kernel": 3, "stride": 1, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 24, "stride": 24},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]
DEEP: list[LayerSpec] = [
    {"type": "conv", "filters": 64, "kernel": 3, "stride": 1, "padding": "same", "activation": "relu"},
    {"type": "conv", "filters": 64, "kernel": 3, "stride": 1, "padding": "same", "activation": "relu"},
    {"type": "batchnorm"},
    {"type": "maxpool", "size": 2, "stride": 2},
    {"type": "conv", "filters": 128, "kernel": 3, "stride": 1, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2, "stride": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 256, "activation": "relu"},
    {"type": "dropout", "rate": 0.5},
    {"type": "dense", "units": 10, "activation": "softmax"},
]
NETWORKS = {**PRESETS, "wide": WIDE, "deep": DEEP}
DEFAULT_CASES = [
    ("convnetjs", 128), ("convnetjs", 4096), ("large", 128), ("large", 1024), ("large", 4096),
    ("wide", 128), ("wide", 1024), ("wide", 4096), ("deep", 256), ("deep", 1024),
]  # fmt: skip


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _max_rss() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux


class _PeakSampler:
    """The highest RSS seen by a thread polling every millisecond."""

    def __init__(self):
        self.peak = _rss()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.001)

    def __enter__(self) -> _PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, _rss())


def measure_step(network: str, batch_size: int) -> dict:
    """In this process: RSS before, and peak during, a new model's first and second training steps."""
    import gc

    import numpy as np

    from mnist_core.runtime.memory import map_large_blocks
    from mnist_core.settings import TrainSettings
    from mnist_core.training.model_pool import new_training_model

    map_large_blocks()  # as the app's server does
    layers = NETWORKS[network]
    held = new_training_model(layers, TrainSettings(batch_size=batch_size))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (batch_size, 28, 28), dtype=np.uint8)
    y = rng.integers(0, 10, batch_size).astype(np.uint8)
    gc.collect()
    before, max_before = _rss(), _max_rss()
    with _PeakSampler() as first:
        held.model.train_batches(x[None], y[None])
    # The kernel's high-water mark catches a peak between two samples, once it is above the import's own.
    first_peak = max(first.peak, _max_rss()) if _max_rss() > max_before else first.peak
    between = _rss()
    with _PeakSampler() as second:
        held.model.train_batches(x[None], y[None])
    return {"before": before, "first_peak": first_peak, "between": between, "second_peak": second.peak}


def measure_models(network: str, count: int) -> dict:
    """In this process: RSS per compiled model that has taken one step (its traced step), `count` kept alive."""
    import gc

    import numpy as np

    from mnist_core.runtime.memory import map_large_blocks, release_free_memory
    from mnist_core.settings import TrainSettings
    from mnist_core.training.model_pool import new_training_model

    map_large_blocks()
    layers = NETWORKS[network]
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (1, 32, 28, 28), dtype=np.uint8), rng.integers(0, 10, (1, 32))

    def one():
        held = new_training_model(layers, TrainSettings(batch_size=32))
        held.model.train_batches(x, y)
        return held

    kept = [one()]  # the first pays TensorFlow's one-time costs
    gc.collect()
    release_free_memory()
    before = _rss()
    kept += [one() for _ in range(count)]
    gc.collect()
    release_free_memory()
    return {"per_model": (_rss() - before) / count, "count": count}


def in_fresh_process(kind: str, network: str, number: int) -> dict:
    """Run one measurement in a fresh interpreter and return its result."""
    code = (
        "import json, sys; from tools import step_memory as m; "
        f"print(json.dumps(m.measure_{kind}({network!r}, {number})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    from mnist_core.model.budget import STEP_MEMORY_BUDGET_BYTES, model_memory_bytes, step_memory_bytes

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", action="append", help="NETWORK:BATCH (repeatable); default: a fixed set")
    parser.add_argument("--models", type=int, default=0, help="also measure N models kept alive per network")
    parser.add_argument("--no-steps", action="store_true", help="measure models only")
    args = parser.parse_args(argv)
    cases = [(c.split(":")[0], int(c.split(":")[1])) for c in args.case] if args.case else DEFAULT_CASES
    cases = [] if args.no_steps else cases
    mb = 2**20
    steps = []
    for network, batch in cases:
        got = in_fresh_process("step", network, batch)
        steps.append(
            {
                "network": network,
                "batch_size": batch,
                "first_step_mb": round((got["first_peak"] - got["before"]) / mb, 1),
                "second_step_mb": round((got["second_peak"] - got["between"]) / mb, 1),
                "peak_mb": round(got["first_peak"] / mb, 1),
                "estimate_mb": round(step_memory_bytes(NETWORKS[network], batch) / mb, 1),
            }
        )
        print(json.dumps(steps[-1]), file=sys.stderr)
    models = []
    for network in NETWORKS if args.models else ():
        got = in_fresh_process("models", network, args.models)
        models.append(
            {
                "network": network,
                "measured_mb": round(got["per_model"] / mb, 2),
                "estimate_mb": round(model_memory_bytes(NETWORKS[network]) / mb, 2),
            }
        )
    result = {"budget_mb": STEP_MEMORY_BUDGET_BYTES / mb, "steps": steps, "models": models}
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
