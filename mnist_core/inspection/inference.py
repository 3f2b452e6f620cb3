"""A network to answer predictions outside its training thread: consistent weights, one caller at a time."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

import keras
import numpy as np

from mnist_core.inspection.inspector import Inspector
from mnist_core.model.architecture import LayerSpec, build_model
from mnist_core.model.predict import CropPrediction, CropPredictor

T = TypeVar("T")


class PublishesWeights(Protocol):
    """What a copy syncs from (a run's state): its latest published weights and their version."""

    def weights(self) -> tuple[int, list[np.ndarray] | None]: ...


class InferenceModel:
    """Its own Keras model; refreshed from a job's published weights (never a half-updated model)."""

    def __init__(self, model: keras.Model):
        self._lock = threading.Lock()
        self._model = model
        self._predictor = CropPredictor(model)
        self._version = -1
        self._inspector = None

    @classmethod
    def for_layers(cls, layers: list[LayerSpec], seed: int = 0) -> InferenceModel:
        return cls(build_model(layers, seed))

    @property
    def weight_count(self) -> int:
        return int(self._model.count_params())

    @property
    def version(self) -> int:
        """The published-weights version this copy holds (-1: its own weights, e.g. the pretrained model)."""
        return self._version

    def sync(self, state: PublishesWeights) -> int:
        """Take the job's latest published weights if newer; return their version."""
        version, weights = state.weights()
        with self._lock:
            if weights is not None and version != self._version:
                self._model.set_weights(weights)
                self._version = version
            return self._version

    def load(self, weights: list[np.ndarray]) -> None:
        """Take these weights (not a job's published ones: its version says so)."""
        with self._lock:
            self._model.set_weights(weights)
            self._version = -1

    def evaluate(self, measure: Callable[[CropPredictor], T]) -> T:
        """`measure(predictor)` on this copy's weights, which no sync changes meanwhile."""
        with self._lock:
            return measure(self._predictor)

    def predict(self, images: np.ndarray, k: int = 4, seed: int | None = None, grid: bool = False) -> CropPrediction:
        with self._lock:
            return self._predictor.predict(images, k, seed=seed, grid=grid)

    def inspector(self):
        """Traced views of this network (filters, activations, saliency), built once; they take its lock."""
        with self._lock:
            if self._inspector is None:
                self._inspector = Inspector(self._model, lock=self._lock)
            return self._inspector

    def keras_bytes(self) -> bytes:
        """The model as a `.keras` file."""
        with self._lock, tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "mnist_live.keras"
            self._model.save(path)
            return path.read_bytes()
