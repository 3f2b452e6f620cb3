"""Step: what one batch trained past the pause changed, measured around that batch by the engine."""

from __future__ import annotations

import numpy as np

from mnist_core.model.architecture import core_of
from mnist_core.model.predict import CropPredictor, accuracy, cross_entropy
from mnist_core.training.run_state import STEP_IMAGES, LayerUpdate, StepReport


class StepProbe:
    """The batch's centre-crop predictions, the weights and the optimizer's step count before the update."""

    def __init__(self, model, predictor: CropPredictor, x: np.ndarray, y: np.ndarray):
        self.model, self.predictor = model, predictor
        self.x, self.y = x, y
        self.layers = [layer for layer in core_of(model).layers if layer.weights]
        self.weights = [[np.array(w) for w in layer.get_weights()] for layer in self.layers]
        self.probabilities = predictor.predict_center(x)
        self.iterations = int(model.optimizer.iterations.numpy())

    def report(self, number: int, examples_seen: int, train_loss: float, diverged: bool = False) -> StepReport:
        """The step's report, once its batch has been trained."""
        after = self.predictor.predict_center(self.x)
        updates = []
        for layer, before in zip(self.layers, self.weights):
            now = layer.get_weights()
            moved = np.sqrt(sum(float(np.sum(np.square(n - b))) for n, b in zip(now, before)))
            size = np.sqrt(sum(float(np.sum(np.square(b))) for b in before))
            updates.append(LayerUpdate(layer.name, float(moved), float(size)))
        shown = slice(0, STEP_IMAGES)
        return StepReport(
            number=number,
            batch_size=len(self.y),
            examples_seen=examples_seen,
            loss_before=cross_entropy(self.probabilities, self.y),
            loss_after=cross_entropy(after, self.y),
            accuracy_before=accuracy(self.probabilities, self.y),
            accuracy_after=accuracy(after, self.y),
            train_loss=train_loss,
            iterations_before=self.iterations,
            iterations_after=int(self.model.optimizer.iterations.numpy()),
            layers=tuple(updates),
            images=np.array(self.x[shown]),
            labels=np.array(self.y[shown]).astype(int),
            before=self.probabilities[shown].argmax(axis=1),
            after=after[shown].argmax(axis=1),
            diverged=diverged,
        )


STILL_TRAINING = (
    "The step is still training its batch (a new run first builds its network and traces its training step, "
    "a few seconds): its report appears below when it is done."
)


def step_once(state, timeout: float) -> tuple[StepReport | None, str | None]:
    """Ask a paused run (its RunState) for one Step and wait up to `timeout` s for it: (its report, a message)."""
    number = state.steps_taken + 1
    refused = state.request_step()
    if refused:
        return None, refused
    report = state.wait_for_step(number, timeout)
    if report is None or report.number < number:
        return None, STILL_TRAINING
    return report, None
