"""The default run on many seeds: `python -m tools.bench_seeds --seeds 0-9` prints one JSON object.

Per seed: the 4-crop test accuracy after each epoch, the examples and seconds (training and wall clock) to the
target, examples/s and the evaluation's seconds; then the summary a promise can rest on. Any setting can be
changed from the default (--batch-size 64, --anneal 0.3, ...) to compare recipes with the same command.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from mnist_core.settings import FIELDS, OPTIMIZER_FIELDS, RUN_FIELDS, TrainSettings, default_optimizer


def main(argv: list[str] | None = None) -> dict:
    args = _parser().parse_args(argv)
    result = run(_settings(args), parse_seeds(args.seeds), args.target)
    print(json.dumps(result, indent=2))
    if args.record:
        record(result)
    return result


def record(result: dict) -> None:
    """Keep the summary as what the Train page promises (only for the default settings)."""
    from mnist_core.training.promise import RECORD

    if result["settings"] != TrainSettings().to_dict():
        raise SystemExit("--record keeps only a run of the default settings")
    kept = {k: result[k] for k in ("settings", "target", "summary")}
    kept["command"] = "python -m tools.bench_seeds --seeds " + ",".join(str(s["seed"]) for s in result["seeds"])
    kept["measured"] = time.strftime("%Y-%m-%d")
    RECORD.write_text(json.dumps(kept, indent=2) + "\n")


def parse_seeds(text: str) -> list[int]:
    """'0-9' or '0,3,7' or '2'."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds += range(int(low), int(high or low) + 1)
    return seeds


def run(settings: TrainSettings, seeds: list[int], target: float = 0.99) -> dict:
    from mnist_core.data.mnist import load_mnist
    from mnist_core.runtime.memory import map_large_blocks

    map_large_blocks()  # as the app's server does
    data = load_mnist()
    runs = [run_seed(settings.with_(seed=seed), data, target) for seed in seeds]
    reached = [r for r in runs if r["examples_to_target"] is not None]
    examples = [r["examples_to_target"] for r in reached]
    return {
        "settings": settings.to_dict(),
        "target": target,
        "seeds": runs,
        "summary": {
            "seeds": len(runs),
            "seeds_reached_target": len(reached),
            "median_examples_to_target": statistics.median(examples) if examples else None,
            "worst_examples_to_target": max(examples) if len(reached) == len(runs) else None,
            "median_train_seconds_to_target": _median(r["train_seconds_to_target"] for r in reached),
            "median_wall_seconds_to_target": _median(r["wall_seconds_to_target"] for r in reached),
            "median_wall_seconds": _median(r["wall_seconds"] for r in runs),
            "median_final_accuracy": round(statistics.median(r["accuracy_by_epoch"][-1] for r in runs), 5),
            "median_examples_per_second": _median(r["examples_per_second"] for r in runs),
            "eval_seconds_per_epoch": _median(s for r in runs for s in r["eval_seconds_by_epoch"]),
        },
    }


def run_seed(settings: TrainSettings, data, target: float) -> dict:
    from mnist_core.training.job import TrainingJob
    from mnist_core.training.model_pool import ModelPool

    job = TrainingJob(settings, data, pool=ModelPool(0))  # each seed builds and traces its model, as a new job does
    started = time.perf_counter()
    job.start()
    job.join()
    wall = time.perf_counter() - started
    view = job.state.view()
    if view.status != "finished":
        raise SystemExit(f"seed {settings.seed}: training ended with status {view.status}: {view.message}")
    hit = next((r for r in view.history if r.test_accuracy_crops >= target), None)
    return {
        "seed": settings.seed,
        "accuracy_by_epoch": [r.test_accuracy_crops for r in view.history],
        "examples_to_target": hit.examples_seen if hit else None,
        "train_seconds_to_target": round(hit.train_seconds, 2) if hit else None,
        "wall_seconds_to_target": round(hit.wall_seconds, 2) if hit else None,
        "wall_seconds": round(wall, 2),
        "train_seconds": round(view.train_seconds, 2),
        "examples_per_second": round(view.examples_seen / view.train_seconds, 1),
        "eval_seconds_by_epoch": [round(r.eval_seconds, 3) for r in view.history],
    }


def _median(values) -> float | None:
    values = list(values)
    return round(statistics.median(values), 2) if values else None


def _settings(args: argparse.Namespace) -> TrainSettings:
    defaults = TrainSettings()
    optimizer = default_optimizer(args.optimizer)
    params = {k: v for k in optimizer.params if (v := getattr(args, k)) is not None}
    optimizer = type(optimizer)(optimizer.name, {**optimizer.params, **params})
    run_values = {k: v for k in RUN_FIELDS if (v := getattr(args, k)) is not None}
    return defaults.with_(optimizer=optimizer, preset=args.preset, **run_values)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_seeds", description=__doc__)
    parser.add_argument("--seeds", default="0-9", help="e.g. 0-9 or 0,2,5")
    parser.add_argument("--target", type=float, default=0.99, help="test accuracy, as a fraction")
    parser.add_argument("--optimizer", default="adadelta")
    parser.add_argument("--preset", default=TrainSettings().preset, help="convnetjs or large")
    parser.add_argument("--record", action="store_true", help="keep the summary as the Train page's promise")
    for name in (*OPTIMIZER_FIELDS, *RUN_FIELDS):
        kind = int if FIELDS[name].integer else float
        label = FIELDS[name].label.replace("%", "%%")  # argparse formats help with %
        parser.add_argument(f"--{name.replace('_', '-')}", dest=name, type=kind, default=None, help=label)
    return parser


if __name__ == "__main__":
    main()
