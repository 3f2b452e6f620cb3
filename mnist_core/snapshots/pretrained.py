"""The small pretrained network shipped in the repo (made by `python -m tools.pretrain`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import keras

from mnist_core.compat.keras_workarounds import keep_kernel_cache_bounded
from mnist_core.inspection.inference import InferenceModel

ASSETS = Path(__file__).resolve().parent / "assets"
MODEL_PATH = ASSETS / "convnetjs.keras"
INFO_PATH = ASSETS / "convnetjs.json"


@dataclass(frozen=True)
class Pretrained:
    model: InferenceModel
    test_accuracy_crops: float
    crops: int
    weights: int


def load_pretrained() -> Pretrained:
    """Load the bundled model (Keras safe mode) and the accuracy measured when it was made."""
    info = json.loads(INFO_PATH.read_text())
    keep_kernel_cache_bounded()  # loading makes variables too; it may come before any build_model
    model = keras.saving.load_model(MODEL_PATH, safe_mode=True, compile=False)
    return Pretrained(InferenceModel(model), info["test_accuracy_crops"], info["crops"], info["weights"])
