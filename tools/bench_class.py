"""A class on one box: `python -m tools.bench_class` prints one JSON object.

In one process, as the server runs them: after the server's warm-up, one default run of --epochs alone (its
training rate is the single-run rate), then --sessions such runs started at once, for each job limit in
--limits (runs beyond the limit wait in the queue). For each limit it prints the seconds until all finished and
their ratio to --sessions times one run's epochs at the single-run rate, and each run's queue wait and rate.

It also times one epoch's evaluation alone (validation, centre-crop and k-crop test passes, as each run makes it,
on all the cores a run trains on; the median of three) and prints the least ratio any schedule can reach while
every run evaluates each epoch exactly: (training + evaluation) / training, both at their rates alone.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import mnist_core  # noqa: F401 - TensorFlow's switches and thread pools before it loads


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_class", description=__doc__)
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--limits", default="1,2", help="job limits to compare, comma-separated")
    args = parser.parse_args(argv)

    from mnist_core.data.mnist import load_mnist
    from mnist_core.runtime.memory import map_large_blocks
    from mnist_core.runtime.queue import default_limit
    from mnist_core.settings import TrainSettings
    from mnist_core.training.warmup import exercise_training

    map_large_blocks()
    data = load_mnist()
    exercise_training()
    settings = TrainSettings(epochs=args.epochs)
    alone = _runs(1, settings, data, limit=1)
    rate = alone["runs"][0]["examples_per_second"]
    ideal = args.sessions * args.epochs * len(data.train) / rate
    report: dict = {
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "date": time.strftime("%Y-%m-%d"),
        "threads": {k: os.environ.get(k) for k in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")},
        "default_limit": default_limit(),
        "sessions": args.sessions,
        "epochs": args.epochs,
        "single_run": {"examples_per_second": round(rate), "wall_seconds": alone["seconds_until_all_finished"]},
        "sessions_at_single_rate_seconds": round(ideal, 2),
    }
    evaluation = _evaluation_seconds(settings, data)
    epoch_seconds = len(data.train) / rate
    report["evaluation_alone_seconds"] = round(evaluation, 3)
    report["evaluation_over_epoch"] = round(evaluation / epoch_seconds, 3)
    report["least_ratio_with_exact_evaluation"] = round(1 + evaluation / epoch_seconds, 3)
    for limit in (int(text) for text in args.limits.split(",")):
        together = _runs(args.sessions, settings, data, limit=limit)
        together["over_sessions_at_single_rate"] = round(together["seconds_until_all_finished"] / ideal, 3)
        report[f"limit_{limit}"] = together
    print(json.dumps(report, indent=2))
    return report


def _evaluation_seconds(settings, data) -> float:
    """One epoch's evaluation as a run makes it (mnist_core.training.epoch_eval), alone: the median of three."""
    import statistics

    from mnist_core.inspection.inference import InferenceModel
    from mnist_core.model.architecture import PRESETS, build_model
    from mnist_core.training.epoch_eval import EpochEnd, epoch_record

    network = build_model(PRESETS[settings.preset], settings.seed)
    model = InferenceModel(network)
    end = EpochEnd(1, len(data.train), 1.0, 0.0, 0.0, settings.crops, network.get_weights())
    times = []
    for _ in range(4):  # the first traces and warms the kernels
        record = model.evaluate(lambda predictor: epoch_record(predictor, data, end, settings.seed, time.monotonic))
        times.append(record.eval_seconds)
    return statistics.median(times[1:])


def _runs(sessions: int, settings, data, limit: int) -> dict:
    from mnist_core.runtime.queue import JobQueue
    from mnist_core.training.job import TrainingJob

    queue = JobQueue(limit)
    jobs = [TrainingJob(settings.with_(seed=i), data, queue=queue) for i in range(sessions)]
    started = time.monotonic()
    placed: dict[int, float] = {}
    for job in jobs:
        job.start()
    while any(job.alive for job in jobs):
        for i, job in enumerate(jobs):
            if i not in placed and job.state.view().status != "queued":
                placed[i] = time.monotonic() - started
        time.sleep(0.05)
    total = time.monotonic() - started
    views = [job.state.view() for job in jobs]
    bad = [v.status for v in views if v.status != "finished"]
    if bad:
        raise SystemExit(f"runs ended {bad}")
    return {
        "limit": limit,
        "seconds_until_all_finished": round(total, 2),
        "runs": [
            {
                "queue_wait_seconds": round(placed.get(i, total), 2),
                "examples_per_second": round(v.examples_seen / v.train_seconds),
                "test_accuracy_crops": v.history[-1].test_accuracy_crops,
            }
            for i, v in enumerate(views)
        ],
    }


def _cpu_model() -> str:
    from tools.bench_engine import _cpu_model as model

    return model()


if __name__ == "__main__":
    main()
