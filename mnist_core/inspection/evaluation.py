"""A network's answers on the test set: confusion matrix, per-class accuracy, its mistakes, and how crops help.

Numpy around a `predict` callable with the signature of `InferenceModel.predict` (so tests can pass a fake).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import NamedTuple

import numpy as np
import pandas as pd

from mnist_core.model.crop import MAX_OFFSET, random_offsets
from mnist_core.model.predict import CropPrediction

CLASSES = 10
RANDOM = "random crops"
GRID = "fixed grid"
CENTRE = "centre crop"
POSITIONS = (MAX_OFFSET + 1) ** 2  # distinct 24x24 crops of a 28x28 image

Predict = Callable[..., CropPrediction]
Progress = Callable[[float], None] | None


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, classes: int = CLASSES) -> np.ndarray:
    """Counts (classes, classes): rows are true classes, columns predicted ones."""
    true = np.asarray(true, dtype=np.int64).ravel()
    predicted = np.asarray(predicted, dtype=np.int64).ravel()
    if true.shape != predicted.shape:
        raise ValueError(f"{len(true)} true labels but {len(predicted)} predictions")
    for name, values in (("true", true), ("predicted", predicted)):
        if values.size and (values.min() < 0 or values.max() >= classes):
            raise ValueError(f"{name} labels must lie in 0..{classes - 1}")
    return np.bincount(true * classes + predicted, minlength=classes * classes).reshape(classes, classes)


# eq=False: generated equality would compare arrays elementwise and fail; identity is what callers need.
@dataclass(frozen=True, eq=False)
class TestEvaluation:
    """k-crop averaged probabilities (N, 10) for N test images with their true labels (N,)."""

    __test__ = False  # a class named Test* is not a pytest test class

    probabilities: np.ndarray
    labels: np.ndarray
    k: int

    def __len__(self) -> int:
        return len(self.labels)

    @cached_property
    def predicted(self) -> np.ndarray:
        return self.probabilities.argmax(axis=1)

    @cached_property
    def confidence(self) -> np.ndarray:
        """The probability of the predicted class."""
        return self.probabilities.max(axis=1)

    @cached_property
    def correct(self) -> np.ndarray:
        return self.predicted == self.labels

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean()) if len(self) else float("nan")

    @property
    def errors(self) -> int:
        return int(len(self) - self.correct.sum())

    @cached_property
    def confusion(self) -> np.ndarray:
        return confusion_matrix(self.labels, self.predicted, self.probabilities.shape[1])

    @property
    def per_class_accuracy(self) -> np.ndarray:
        """Recall of each true class; NaN for a class with no test image."""
        totals = self.confusion.sum(axis=1)
        out = np.full(len(totals), np.nan)
        np.divide(np.diag(self.confusion), totals, out=out, where=totals > 0)
        return out

    def cell(self, true: int, predicted: int) -> np.ndarray:
        """Indices of the images of class `true` read as `predicted`, most confident first."""
        return _by_confidence(np.flatnonzero((self.labels == true) & (self.predicted == predicted)), self.confidence)

    def confident_mistakes(self, n: int | None = None) -> np.ndarray:
        """Indices of the wrong predictions, most confident first (the first n, or all)."""
        return _by_confidence(np.flatnonzero(~self.correct), self.confidence)[:n]


def _by_confidence(indices: np.ndarray, confidence: np.ndarray) -> np.ndarray:
    # Stable, so equal confidences keep test-set order and results are reproducible.
    return indices[np.argsort(-confidence[indices], kind="stable")]


def evaluate(
    predict: Predict,
    images: np.ndarray,
    labels: np.ndarray,
    k: int,
    seed: int | None = 0,
    progress: Progress = None,
    chunk: int = 2000,
) -> TestEvaluation:
    """Average k random crops per image, `chunk` images per call, calling progress(fraction) after each."""
    images, labels = np.asarray(images), np.asarray(labels)
    _check(images, labels, chunk)
    parts = []
    for index, start in enumerate(range(0, len(images), chunk)):
        parts.append(predict(images[start : start + chunk], k, seed=_chunk_seed(seed, index)).probabilities)
        _report(progress, min(start + chunk, len(images)) / len(images))
    return TestEvaluation(np.concatenate(parts), labels, k)


class StudyRow(NamedTuple):
    method: str
    k: int
    accuracy: float
    errors: int


@dataclass(frozen=True)
class CropStudy:
    """Test accuracy of the average over k crops, for random and fixed-grid crops, and of the centre crop alone."""

    rows: tuple[StudyRow, ...]
    centre: float
    n: int
    seconds: float

    def accuracy(self, method: str, k: int) -> float:
        return next(row.accuracy for row in self.rows if row.method == method and row.k == k)

    def frame(self) -> pd.DataFrame:
        """Tidy rows: method, k, accuracy, errors."""
        return pd.DataFrame(self.rows, columns=StudyRow._fields)


def crop_study(
    predict: Predict,
    images: np.ndarray,
    labels: np.ndarray,
    ks: Sequence[int] = (1, 2, 4, 8, 16),
    seed: int | None = 0,
    progress: Progress = None,
    chunk: int = 1000,
) -> CropStudy:
    """Accuracy against k for both crop methods, and of the centre crop alone.

    Per-crop probabilities are computed once for max(ks) crops of each method, and every k is a prefix
    average: the first k random crops are a sample of k crops (they are independent), and the first k
    grid crops are the k-grid (the grid lists the centre first, so the centre crop is the grid's k=1).
    """
    images, labels = np.asarray(images), np.asarray(labels)
    _check(images, labels, chunk)
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError("ks must be positive crop counts")
    started = time.perf_counter()
    correct = {RANDOM: np.zeros(len(ks), np.int64), GRID: np.zeros(len(ks), np.int64)}
    centre_correct, n = 0, len(images)
    for index, start in enumerate(range(0, n, chunk)):
        part, truth = images[start : start + chunk], labels[start : start + chunk]
        per_method = _crop_probabilities(predict, part, ks[-1], _chunk_seed(seed, index))
        for method, per_crop in zip((RANDOM, GRID), per_method, strict=True):
            # The arg max of a prefix sum is the arg max of the prefix mean.
            prefix = np.cumsum(per_crop, axis=1)[:, [k - 1 for k in ks]]  # (n, len(ks), 10)
            correct[method] += (prefix.argmax(axis=2) == truth[:, None]).sum(axis=0)
        centre_correct += int((per_method[1][:, 0].argmax(axis=1) == truth).sum())
        _report(progress, (start + len(part)) / n)
    rows = tuple(
        StudyRow(method, k, float(hits[i] / n), int(n - hits[i]))
        for method, hits in correct.items()
        for i, k in enumerate(ks)
    )
    return CropStudy(rows, centre_correct / n, n, time.perf_counter() - started)


def _crop_probabilities(
    predict: Predict, images: np.ndarray, k: int, seed: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Per-crop probabilities (N, k, 10) of the k random crops predict(images, k, seed) takes, and of the k-grid."""
    if 2 * k < POSITIONS:
        return predict(images, k, seed=seed).per_crop, predict(images, k, grid=True).per_crop
    # Cheaper to run each of the 25 crop positions once (25 crops per image instead of 2k) and look both sets up.
    every = predict(images, POSITIONS, grid=True)  # grid order: its first k are the k-grid
    position = np.zeros((MAX_OFFSET + 1, MAX_OFFSET + 1), np.int64)
    position[every.offsets[0, :, 0], every.offsets[0, :, 1]] = np.arange(POSITIONS)
    offsets = random_offsets(len(images), k, np.random.default_rng(seed))  # the draw predict makes for this seed
    rows = np.arange(len(images))[:, None]
    sampled = every.per_crop[rows, position[offsets[..., 0], offsets[..., 1]]]
    return sampled, every.per_crop[:, np.arange(k) % POSITIONS]  # a grid longer than 25 repeats itself


def _check(images: np.ndarray, labels: np.ndarray, chunk: int) -> None:
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must be (N, 28, 28), got {images.shape}")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if len(images) == 0:
        raise ValueError("no images to evaluate")
    if chunk < 1:
        raise ValueError("chunk must be at least 1")


def _chunk_seed(seed: int | None, index: int) -> int | None:
    # One seed per chunk: reusing `seed` would give image i of every chunk the same crop offsets.
    if seed is None:
        return None
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def _report(progress: Progress, fraction: float) -> None:
    if progress is not None:
        progress(min(1.0, fraction))
