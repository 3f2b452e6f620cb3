"""The Compare page's race headless: `python -m tools.bench_race` prints one JSON object.

It runs the seven default contestants for one epoch each (--budget, --preset, --seed).
"""

from __future__ import annotations

import argparse
import json
import math
import time

from mnist_core.model.architecture import PRESETS
from mnist_core.training.contestants import default_contestants
from mnist_core.training.race import Race
from mnist_core.training.race_results import ContestantResult, summary_text


def main(argv: list[str] | None = None) -> dict:
    """Run the default race headless and print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m tools.bench_race", description=__doc__)
    parser.add_argument("--preset", default="convnetjs", choices=list(PRESETS))
    parser.add_argument("--budget", type=int, default=None, help="examples per contestant (default one epoch)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from mnist_core.data.mnist import load_mnist

    race = Race(default_contestants(), load_mnist(), PRESETS[args.preset], args.seed, args.budget)
    started = time.perf_counter()
    race.start()
    race.join()
    seconds = time.perf_counter() - started
    snap = race.view()
    if snap.status != "finished":
        raise SystemExit(f"race ended with status {snap.status}: {snap.message}")
    results = race.results()
    report = {
        "race_seconds": round(seconds, 1),
        "preset": args.preset,
        "budget_examples": race.budget_examples,
        "contestants": [_json_result(r) for r in results],
        "summary": summary_text(results),
    }
    print(json.dumps(report, indent=2))
    return report


def _json_result(result: ContestantResult) -> dict:
    out = {k: v for k, v in vars(result).items() if k not in ("optimizer",)}
    for key in ("final_loss", "validation_accuracy", "test_accuracy", "train_seconds"):
        value = out[key]
        out[key] = round(value, 4) if value is not None and math.isfinite(value) else None
    return out


if __name__ == "__main__":
    main()
