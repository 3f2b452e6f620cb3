"""The small pretrained network shipped in the repo (made by `python -m mnist_core.pretrain`)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import keras

from mnist_core.inference import InferenceModel
from mnist_core.pretrain import INFO_PATH, MODEL_PATH


@dataclass(frozen=True)
class Pretrained:
    model: InferenceModel
    test_accuracy_crops: float
    crops: int
    weights: int


def load_pretrained() -> Pretrained:
    """Load the bundled model (Keras safe mode) and the accuracy measured when it was made."""
    info = json.loads(INFO_PATH.read_text())
    model = keras.saving.load_model(MODEL_PATH, safe_mode=True, compile=False)
    return Pretrained(InferenceModel(model), info["test_accuracy_crops"], info["crops"], info["weights"])
