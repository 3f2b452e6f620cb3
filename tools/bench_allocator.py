"""Memory left behind by training jobs run one after another in one process, with glibc's malloc as it comes or
tuned: `python -m tools.bench_allocator` prints one JSON object.

Each job trains the default network for `--epochs` on MNIST (MNIST_NPZ_PATH or Keras's download), as one
session's job in the server does, then is dropped; per job: seconds until its first progress (model build and
tracing), its whole time, examples/s as the job reports them, and the process's RSS after it and after
`malloc_trim`. glibc's malloc as it comes by default; `--map-large-blocks` tunes it as the app's server does
(mnist_core.runtime.memory.map_large_blocks) before anything is allocated.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _rss_mb(process) -> int:
    return round(process.memory_info().rss / 2**20)


def run(jobs: int, epochs: int) -> list[dict]:
    import psutil

    from mnist_core.data.mnist import load_mnist
    from mnist_core.runtime.memory import release_free_memory
    from mnist_core.settings import TrainSettings
    from mnist_core.training.job import TrainingJob

    process, data, results = psutil.Process(), load_mnist(), []
    for index in range(jobs):
        started = time.monotonic()
        job = TrainingJob(TrainSettings(epochs=epochs, seed=index), data)
        job.start()
        while not job.state.view().examples_seen and job.state.view().status != "error":
            time.sleep(0.01)
        first = time.monotonic() - started
        job.join(timeout=1800)
        snap = job.state.view()
        del job
        gc.collect()
        rss = _rss_mb(process)
        release_free_memory()
        results.append({
            "status": snap.status,
            "seconds_to_first_progress": round(first, 2),
            "seconds": round(time.monotonic() - started, 1),
            "examples_per_second": round(snap.examples_per_second or 0),
            "rss_mb": rss,
            "rss_trimmed_mb": _rss_mb(process),
        })  # fmt: skip
    return results


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_allocator", description=__doc__)
    parser.add_argument("--jobs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--map-large-blocks", action="store_true", help="tune malloc as the app's server does")
    args = parser.parse_args(argv)
    from mnist_core.runtime.memory import map_large_blocks

    result = {
        "large_blocks_mapped": args.map_large_blocks and map_large_blocks(),
        "jobs": run(args.jobs, args.epochs),
    }
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
