"""Crop-averaged prediction: average the softmax of k 24x24 crops, by a direct (not model.predict) call."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mnist_core.model.architecture import core_of
from mnist_core.model.crop import CENTER_OFFSET, CROP_SIZE, crop_keys, crops_by_key, grid_offsets, random_offsets
from mnist_core.runtime.memory import LARGE_BLOCK

# Crops per forward call at most: TensorFlow keeps working buffers sized for the largest batch it has run.
MAX_CHUNK = 512
MIN_CHUNK = 16


def chunk_size(core: keras.Model) -> int:
    """Crops per forward call for this core: as many as keep every layer's output under LARGE_BLOCK bytes, since
    a larger buffer gets a mapping of its own (mnist_core.runtime.memory) whose pages fault in again at every call.
    """
    widest = max(int(np.prod(layer.output.shape[1:])) for layer in core.layers) * 4  # float32 bytes per crop
    return int(np.clip(LARGE_BLOCK // widest, MIN_CHUNK, MAX_CHUNK))


@dataclass(frozen=True)
class CropPrediction:
    probabilities: np.ndarray  # (N, 10), the average over crops
    per_crop: np.ndarray  # (N, k, 10)
    offsets: np.ndarray  # (N, k, 2) (row, col) of each crop
    center: np.ndarray | None = None  # (N, 10) from the centre crop alone, when asked for

    @property
    def labels(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)


class CropPredictor:
    """Runs a model's core on crops of 28x28 uint8 images. Use from one thread at a time (it starts its own)."""

    def __init__(self, model: keras.Model):
        core = core_of(model)
        self.chunk = chunk_size(core)
        spec = tf.TensorSpec((None, CROP_SIZE, CROP_SIZE, 1), tf.float32)
        # model.predict costs ~60 ms of overhead per call; a traced direct call costs well under 1 ms.
        self._forward = tf.function(lambda x: core(x, training=False), input_signature=[spec])
        # Traced now through its signature: TensorFlow counts only traces made by calls towards its retracing
        # warning, which the predictors of several models, each traced by its first call, would trip.
        self._forward.get_concrete_function()

    def forward(self, crops: np.ndarray, workers: int = 1) -> np.ndarray:
        """Probabilities (M, 10) for crops (M, 24, 24) of pixel values 0..255.

        `workers` threads take the chunks in turn: with one TensorFlow thread per kernel, that many cores work at
        once. The chunks, and so the results, are the same whatever the number.
        """
        chunks = [crops[start : start + self.chunk] for start in range(0, len(crops), self.chunk)]
        if not chunks:
            return np.zeros((0, 10), np.float32)
        if workers > 1 and len(chunks) > 1:
            with ThreadPoolExecutor(min(workers, len(chunks)), thread_name_prefix="mnist-live-forward") as pool:
                return np.concatenate(list(pool.map(self._chunk, chunks)))
        return np.concatenate([self._chunk(chunk) for chunk in chunks])

    def _chunk(self, crops: np.ndarray) -> np.ndarray:
        batch = np.asarray(crops, dtype=np.float32)[..., None]
        return self._forward(tf.constant(batch)).numpy()

    def predict(
        self,
        images: np.ndarray,
        k: int = 4,
        seed: int | None = None,
        grid: bool = False,
        workers: int = 1,
        center: bool = False,
    ) -> CropPrediction:
        """Average the softmax over k crops of each image (random with `seed`, or a fixed grid); with `center`, the
        centre crop's probabilities too.

        Each distinct crop runs once: an image's offsets drawn twice, or the centre among them, share one forward
        pass (with 4 random crops and the centre, about 8% fewer passes).
        """
        images = np.asarray(images)
        if images.ndim == 2:
            images = images[None]
        n = len(images)
        offsets = grid_offsets(n, k) if grid else random_offsets(n, k, np.random.default_rng(seed))
        wanted = offsets
        if center:
            wanted = np.concatenate([np.full((n, 1, 2), CENTER_OFFSET), offsets], axis=1)
        distinct, inverse = np.unique(crop_keys(wanted), return_inverse=True)
        probabilities = self.forward(crops_by_key(images, distinct), workers)[inverse.ravel()].reshape(n, -1, 10)
        per_crop = probabilities[:, 1:] if center else probabilities
        return CropPrediction(per_crop.mean(axis=1), per_crop, offsets, probabilities[:, 0] if center else None)

    def predict_center(self, images: np.ndarray, workers: int = 1) -> np.ndarray:
        """Probabilities (N, 10) from the centre crop alone."""
        c = CENTER_OFFSET
        return self.forward(np.asarray(images)[:, c : c + CROP_SIZE, c : c + CROP_SIZE], workers)


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float((probabilities.argmax(axis=1) == labels).mean())


def cross_entropy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    picked = probabilities[np.arange(len(labels)), labels]
    return float(-np.log(np.clip(picked, 1e-7, 1.0)).mean())
