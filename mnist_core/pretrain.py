"""Train the small pretrained model shipped in the repo: `python -m mnist_core.pretrain`.

Uses the app's own training job with the default settings, then writes `assets/convnetjs.keras` and
`assets/convnetjs.json` (settings and full-test-set accuracies) next to this file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from mnist_core.architecture import PRESETS
from mnist_core.data import load_mnist
from mnist_core.settings import TrainSettings

ASSETS = Path(__file__).resolve().parent / "assets"
MODEL_PATH = ASSETS / "convnetjs.keras"
INFO_PATH = ASSETS / "convnetjs.json"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m mnist_core.pretrain", description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from mnist_core.inference import InferenceModel
    from mnist_core.job import TrainingJob

    settings = TrainSettings(epochs=args.epochs, seed=args.seed)
    data = load_mnist()
    job = TrainingJob(settings, data, PRESETS["convnetjs"])
    job.start()
    job.join()
    snap = job.state.snapshot()
    if snap.status != "finished":
        raise SystemExit(f"training ended with status {snap.status}: {snap.message}")
    model = InferenceModel.for_layers(job.layers, settings.seed)
    model.sync(job.state)
    ASSETS.mkdir(exist_ok=True)
    MODEL_PATH.write_bytes(model.keras_bytes())
    last = snap.history[-1]
    info = {
        "command": " ".join(["python -m mnist_core.pretrain", *(sys.argv[1:] if argv is None else argv)]),
        "settings": settings.to_dict(),
        "test_accuracy_center": last.test_accuracy_center,
        "test_accuracy_crops": last.test_accuracy_crops,
        "crops": last.crops,
        "validation_accuracy": last.validation_accuracy,
        "train_seconds": round(last.train_seconds, 1),
        "weights": model.weight_count,
    }
    INFO_PATH.write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))
    return info


if __name__ == "__main__":
    main()
