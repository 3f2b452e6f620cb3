"""Train the small pretrained model shipped in the repo: `python -m tools.pretrain`.

Uses the app's own training job with the default settings, then writes `assets/convnetjs.keras` and
`assets/convnetjs.json` (settings and full-test-set accuracies) in mnist_core/snapshots/.
"""

from __future__ import annotations

import argparse
import json
import sys

from mnist_core.data.mnist import load_mnist
from mnist_core.model.architecture import PRESETS
from mnist_core.settings import TrainSettings
from mnist_core.snapshots.pretrained import ASSETS, INFO_PATH, MODEL_PATH


def trained(job):
    """Run `job` to its end; its network as an InferenceModel and its final view. Exits unless it finished."""
    from mnist_core.inspection.inference import InferenceModel

    job.start()
    job.join()
    view = job.state.view()
    if view.status != "finished":
        raise SystemExit(f"training ended with status {view.status}: {view.message}")
    model = InferenceModel.for_layers(job.layers, job.settings.seed)
    model.sync(job.state)
    return model, view


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tools.pretrain", description=__doc__)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from mnist_core.training.job import TrainingJob

    settings = TrainSettings(epochs=args.epochs, seed=args.seed)
    job = TrainingJob(settings, load_mnist(), PRESETS["convnetjs"])
    model, snap = trained(job)
    ASSETS.mkdir(exist_ok=True)
    MODEL_PATH.write_bytes(model.keras_bytes())
    last = snap.history[-1]
    info = {
        "command": " ".join(["python -m tools.pretrain", *(sys.argv[1:] if argv is None else argv)]),
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
