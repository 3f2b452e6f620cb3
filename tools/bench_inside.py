"""Inside-page benchmark: `python -m tools.bench_inside` prints one JSON object.

With the pretrained ConvNetJS net (the default network) on all 10,000 test digits it times what the Inside
the network page computes: the evaluation behind the confusion matrix (k crops), the crop-averaging study
(every k, random and grid), one redraw of the filters and activations tabs (traced calls plus PNGs) and one
of the gradients tab.
The effect of the live redraw on a training job in the app is measured by `python -m tools.bench_app --watch`.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _seconds(work, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return times


def run(k: int = 4, runs: int = 3, redraws: int = 50) -> dict:
    """Time the Inside page's evaluations and redraws."""
    from mnist_core.data.mnist import load_mnist
    from mnist_core.inspection import pictures as render
    from mnist_core.inspection.evaluation import crop_study, evaluate
    from mnist_core.snapshots.pretrained import load_pretrained

    test = load_mnist().test
    model = load_pretrained().model
    model.predict(test.x[:10], k)  # tracing is a one-off per network, not part of a page's evaluation
    evaluation = evaluate(model.predict, test.x, test.y, k)
    confusion = _seconds(lambda: evaluate(model.predict, test.x, test.y, k), runs)
    study = crop_study(model.predict, test.x, test.y)
    studies = [study.seconds] + _seconds(lambda: crop_study(model.predict, test.x, test.y), runs - 1)
    inspector = model.inspector()
    digit = test.x[0]

    def redraw() -> None:
        for bank in inspector.filters():
            render.filter_grid_png(bank)
        saliency = inspector.saliency(digit, k)
        render.saliency_overlay_png(digit, saliency.map)
        render.saliency_png(saliency.map)
        for layer in inspector.activations(digit):
            render.feature_maps_png(layer)

    def gradients() -> None:
        for layer in inspector.gradients(digit[None], test.y[:1]).layers:
            render.gradient_maps_png(layer)
            if layer.weights is not None:
                render.weight_gradient_png(layer)

    redraw()
    redraw_ms = np.array(_seconds(redraw, redraws)) * 1000
    gradients()
    gradients_ms = np.array(_seconds(gradients, redraws)) * 1000
    return {
        "model": "pretrained convnetjs",
        "test_images": len(test.x),
        "k": k,
        "confusion_evaluation_seconds": round(float(np.median(confusion)), 3),
        "confusion_evaluation_seconds_max": round(max(confusion), 3),
        "test_accuracy": round(evaluation.accuracy, 4),
        "crop_study_seconds": round(float(np.median(studies)), 2),
        "crop_study_seconds_max": round(max(studies), 2),
        "crop_study": {f"{r.method} k={r.k}": round(r.accuracy, 4) for r in study.rows},
        "centre_crop_accuracy": round(study.centre, 4),
        "filters_and_activations_redraw_ms_p50": round(float(np.percentile(redraw_ms, 50)), 2),
        "filters_and_activations_redraw_ms_p95": round(float(np.percentile(redraw_ms, 95)), 2),
        "gradients_redraw_ms_p50": round(float(np.percentile(gradients_ms, 50)), 2),
        "gradients_redraw_ms_p95": round(float(np.percentile(gradients_ms, 95)), 2),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_inside", description=__doc__)
    parser.add_argument("--k", type=int, default=4, help="crops per prediction for the confusion matrix")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    if args.k < 1 or args.runs < 1:
        parser.error("--k and --runs must be positive")
    result = run(args.k, args.runs)
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
