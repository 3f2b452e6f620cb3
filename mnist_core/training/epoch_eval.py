"""Each epoch's evaluation, on a copy of that epoch's weights, in a thread of its own beside the next epoch.

A job hands over the weights a pass ended with and what it counted; the evaluation (validation loss and accuracy,
centre-crop and k-crop test accuracy, exactly as a job waiting for it would compute them) runs while the next pass
trains, on the cores' idle share, and its record reaches the run's state when it is ready. Evaluations finish in
the order they were asked for. A job waits only where the answer decides what it does next: after its last
epoch, and after each epoch when a target accuracy may end the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from mnist_core.data.mnist import Mnist
from mnist_core.data.own_digits import Split
from mnist_core.inspection.inference import InferenceModel
from mnist_core.model.architecture import LayerSpec
from mnist_core.model.predict import CropPredictor, accuracy, cross_entropy
from mnist_core.runtime.threads import training_parts
from mnist_core.training.run_state import EpochRecord, RunState


@dataclass(frozen=True)
class EpochEnd:
    """What a pass left for its record: its counts and clock at its end, its Keras means and its weights."""

    epoch: int  # overall, counting a continued run's earlier epochs
    examples_seen: int
    train_seconds: float
    train_loss: float
    train_accuracy: float
    crops: int
    weights: list[np.ndarray]


def epoch_record(
    predictor: CropPredictor,
    data: Mnist,
    end: EpochEnd,
    seed: int,
    elapsed: Callable[[], float],
    held: Split | None = None,
) -> EpochRecord:
    """The record of the pass that ended at `end`, measured with `predictor` holding its weights.

    `elapsed()`: the run's wall clock, read as the record is made. `held`: the run's extra digits (ExtraDigits),
    whose held-out part is read with k crops as the test set is; None, or none held out, leaves it None.
    """
    started, workers = time.perf_counter(), training_parts()
    val = predictor.predict_center(data.validation.x, workers)
    test = predictor.predict(data.test.x, end.crops, seed=seed, workers=workers, center=True)
    own = None
    if held is not None and len(held.held_y):
        own = accuracy(predictor.predict(held.held_x, end.crops, seed=seed).probabilities, held.held_y)
    return EpochRecord(
        epoch=end.epoch,
        examples_seen=end.examples_seen,
        train_seconds=end.train_seconds,
        train_loss=end.train_loss,
        train_accuracy=end.train_accuracy,
        validation_loss=cross_entropy(val, data.validation.y),
        validation_accuracy=accuracy(val, data.validation.y),
        test_accuracy_center=accuracy(test.center, data.test.y),
        test_accuracy_crops=accuracy(test.probabilities, data.test.y),
        crops=end.crops,
        eval_seconds=time.perf_counter() - started,
        wall_seconds=elapsed(),
        own_accuracy=own,
    )


class EpochEvaluator:
    """Evaluates a run's passes in order, each in a daemon thread, on a network of its own (built at first use)."""

    def __init__(self, layers: Sequence[LayerSpec], seed: int, data: Mnist, state: RunState, held: Split | None = None):
        """`held`: the run's extra digits split (mnist_core.data.own_digits), whose held-out part each record reads."""
        self._layers, self._seed, self._data, self._state = list(layers), seed, data, state
        self._held = held
        self._model: InferenceModel | None = None
        self._last: threading.Thread | None = None
        self._record: EpochRecord | None = None
        self._failure: BaseException | None = None

    def submit(self, end: EpochEnd) -> None:
        """Evaluate the pass that ended at `end` after the ones before it; its record goes into the state."""
        previous = self._last
        self._last = threading.Thread(
            target=self._evaluate, args=(previous, end), name="mnist-live-evaluation", daemon=True
        )
        self._last.start()

    def wait(self) -> EpochRecord | None:
        """Wait for every evaluation asked for; the last record (None if none). Raises what an evaluation raised."""
        if self._last is not None:
            self._last.join()
        if self._failure is not None:
            raise self._failure
        return self._record

    @property
    def pending(self) -> bool:
        return self._last is not None and self._last.is_alive()

    def _evaluate(self, previous: threading.Thread | None, end: EpochEnd) -> None:
        if previous is not None:
            previous.join()
        if self._failure is not None:
            return
        try:
            if self._model is None:
                self._model = InferenceModel.for_layers(self._layers, self._seed)
            self._model.load(end.weights)
            record = self._model.evaluate(
                lambda predictor: epoch_record(predictor, self._data, end, self._seed, self._state.elapsed, self._held)
            )
        except Exception as exc:  # noqa: BLE001 - the job raises it when it waits
            self._failure = exc
            return
        self._record = record
        self._state.add_epoch(record)
