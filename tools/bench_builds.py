"""Memory kept per model build and per snapshot load: `python -m tools.bench_builds` prints one JSON object.

Builds and drops `--builds` models of the ConvNetJS net, then loads `--snapshots` different snapshots (made first
with the app's own save_snapshot, each from a model built for it) and answers one prediction with each, as the
Draw page does. With `--trainings N`, it also trains N new models (compiled and fitted on 256 images, as a job
does when the model pool holds none for its network). RSS is read every `--every` after a full collection and
malloc_trim, so that only memory still held counts; the growth after the first `--every` is what a long-running
server would keep adding.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable

import numpy as np
import psutil

from mnist_core.runtime.memory import map_large_blocks, release_free_memory


def rss_mb() -> float:
    """This process's resident memory after a full collection and handing free pages back."""
    gc.collect()
    release_free_memory()
    return psutil.Process().memory_info().rss / 2**20


def measure(count: int, every: int, step: Callable[[int], None]) -> dict[str, object]:
    """Run step(0..count-1), reading RSS before and every `every` steps; growth after the first `every`."""
    start = time.perf_counter()
    readings = {0: round(rss_mb(), 1)}
    for index in range(count):
        step(index)
        if (index + 1) % every == 0 or index + 1 == count:
            readings[index + 1] = round(rss_mb(), 1)
    marks = sorted(readings)
    result: dict[str, object] = {"count": count, "rss_mb": readings, "seconds": round(time.perf_counter() - start, 1)}
    if len(marks) > 2:  # the first `every` settle caches and arenas; what follows is what each one keeps
        first, last = marks[1], marks[-1]
        growth = readings[last] - readings[first]
        result["growth_after_first_mb"] = round(growth, 1)
        result["kb_each_after_first"] = round(growth * 1024 / (last - first), 1)
    return result


def bench_builds(count: int, every: int) -> dict[str, object]:
    from mnist_core.model.architecture import CONVNETJS, build_model

    return measure(count, every, lambda index: build_model(CONVNETJS, seed=index))


def bench_snapshots(count: int, every: int) -> dict[str, object]:
    from mnist_core.model.architecture import CONVNETJS, build_model
    from mnist_core.settings import TrainSettings
    from mnist_core.snapshots import load_snapshot, save_snapshot

    files = []
    for index in range(count):  # each from its own model: its layer names differ, as users' files do
        settings = TrainSettings(seed=index)
        files.append(save_snapshot(build_model(CONVNETJS, index).get_weights(), CONVNETJS, settings, None))
    blank = np.zeros((28, 28), np.uint8)

    def load(index: int) -> None:
        loaded = load_snapshot(files[index])
        loaded.model.predict(blank, k=4, seed=index)

    return {**measure(count, every, load), "file_kb": round(sum(map(len, files)) / len(files) / 1024, 1)}


def bench_trainings(count: int, every: int) -> dict[str, object]:
    from mnist_core.model.architecture import CONVNETJS
    from mnist_core.settings import TrainSettings
    from mnist_core.training.model_pool import new_training_model

    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 256, (256, 28, 28), dtype=np.uint8), np.arange(256) % 10

    def train(index: int) -> None:
        held = new_training_model(CONVNETJS, TrainSettings(seed=index))
        held.model.train_batches(x.reshape(4, 64, 28, 28), y.reshape(4, 64))

    return measure(count, every, train)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=1000)
    parser.add_argument("--snapshots", type=int, default=200)
    parser.add_argument("--trainings", type=int, default=0)
    parser.add_argument("--every", type=int, default=100)
    args = parser.parse_args(argv)
    if min(args.builds, args.snapshots, args.trainings) < 0 or args.every < 1:
        parser.error("counts must be 0 or more and --every at least 1")
    map_large_blocks()  # as the server does first
    import keras

    result: dict[str, object] = {"keras": keras.__version__, "every": args.every}
    if args.builds:
        result["builds"] = bench_builds(args.builds, args.every)
    if args.snapshots:
        result["snapshots"] = bench_snapshots(args.snapshots, args.every)
    if args.trainings:
        result["trainings"] = bench_trainings(args.trainings, args.every)
    result["final_rss_mb"] = round(rss_mb(), 1)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
