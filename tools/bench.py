"""Headless benchmark of the training engine: `python -m tools.bench` prints one JSON object."""

from __future__ import annotations

import argparse
import json
import resource
import time

import numpy as np

from mnist_core.data.mnist import load_mnist
from mnist_core.model.architecture import PRESETS
from mnist_core.settings import OPTIMIZERS, TrainSettings, default_optimizer


def main(argv: list[str] | None = None) -> dict:
    args = _parser().parse_args(argv)
    settings = TrainSettings(
        optimizer=default_optimizer(args.optimizer),
        epochs=args.epochs,
        preset=args.preset,
        seed=args.seed,
        **({"batch_size": args.batch_size} if args.batch_size else {}),
    )
    result = run(settings, args.target, warm=not args.cold)
    print(json.dumps(result, indent=2))
    return result


def run(settings: TrainSettings, target: float = 0.99, warm: bool = True) -> dict:
    """Train with the same engine as the app and measure speed, accuracy and prediction latency.

    `warm`: first run the server's start-up warm-up (mnist_core.training.warmup), as a user's run finds it done;
    the wall clock starts after it.
    """
    from mnist_core.runtime.memory import map_large_blocks

    map_large_blocks()  # as the app's server does
    from mnist_core.model.predict import CropPredictor, accuracy
    from mnist_core.training.job import TrainingJob
    from mnist_core.training.warmup import exercise_training

    data = load_mnist()
    warmup = time.perf_counter()
    if warm:
        exercise_training()
    warmup = time.perf_counter() - warmup
    job = TrainingJob(settings, data)
    started = time.perf_counter()
    job.start()
    job.join()
    wall = time.perf_counter() - started
    snap = job.state.view()
    if snap.status != "finished":
        raise SystemExit(f"training ended with status {snap.status}: {snap.message}")
    reached = next((r for r in snap.history if r.test_accuracy_crops >= target), None)
    model = _final_model(job)
    predictor = CropPredictor(model)
    latencies = _predict_latencies(predictor, data.test.x)
    final = snap.history[-1]
    return {
        "preset": settings.preset,
        "optimizer": settings.optimizer.name,
        "batch_size": settings.batch_size,
        "epochs": settings.epochs,
        "seed": settings.seed,
        "target": target,
        "seconds_to_target": round(reached.train_seconds, 2) if reached else None,
        "epochs_to_target": reached.epoch if reached else None,
        "train_seconds": round(snap.train_seconds, 2),
        "wall_seconds": round(wall, 2),
        "wall_over_train": round(wall / snap.train_seconds, 3),
        "warmed_up": warm,
        "warmup_seconds": round(warmup, 2),
        "examples_per_second": round(final.examples_seen / final.train_seconds, 1),
        "ms_per_example_forward": _round(snap.ms_forward, 4),
        "ms_per_example_step": _round(snap.ms_step, 4),
        "test_accuracy_center": accuracy(predictor.predict_center(data.test.x), data.test.y),
        "test_accuracy_crops": final.test_accuracy_crops,
        "test_accuracy_crops_by_epoch": [r.test_accuracy_crops for r in snap.history],
        "predict_ms_p50": round(float(np.percentile(latencies, 50)), 3),
        "predict_ms_p95": round(float(np.percentile(latencies, 95)), 3),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _final_model(job):
    from mnist_core.model.architecture import build_model

    model = build_model(job.layers, job.settings.seed)
    model.set_weights(job.state.weights()[1])
    return model


def _predict_latencies(predictor, images: np.ndarray, runs: int = 200) -> np.ndarray:
    """Milliseconds for one-image k=4 predictions, as the Draw page makes them."""
    rng = np.random.default_rng(0)
    for i in range(10):
        predictor.predict(images[i], 4, seed=i)
    times = []
    for i in rng.integers(0, len(images), runs):
        started = time.perf_counter()
        predictor.predict(images[i], 4, seed=int(i))
        times.append((time.perf_counter() - started) * 1000)
    return np.array(times)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__)
    parser.add_argument("--preset", default="convnetjs", choices=list(PRESETS))
    parser.add_argument("--optimizer", default="adadelta", choices=list(OPTIMIZERS))
    parser.add_argument("--epochs", type=int, default=TrainSettings().epochs)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--cold", action="store_true", help="skip the server's warm-up: the run builds and traces")
    return parser


if __name__ == "__main__":
    main()
