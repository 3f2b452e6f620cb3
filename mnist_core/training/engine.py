"""The training loop every run uses: one Keras callback that trains a model on examples in order.

A run's owner (the Train page's job, each contestant of a race) hands the engine examples in the order it
chooses, as many as it wants at a time (a job: one epoch; a race: one chunk), and evaluates when it likes. The
engine does everything in between the same way for all of them: batches, pause and stop, live learning-rate and
momentum changes, the size of the last batch, per-batch loss and accuracy, the L2 term, divergence, the training
clock, live progress, the stream of test digits and the published weights.

`control` is where pause, stop and live changes are read (the run's own state, or a race's shared one);
`state` is where this run's numbers go.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass

import keras
import numpy as np

from mnist_core.data.mnist import Split
from mnist_core.model.architecture import decayed_kernels
from mnist_core.model.optimizers import set_live_params
from mnist_core.model.predict import CropPredictor
from mnist_core.settings import Applies, applying
from mnist_core.training.model_pool import TrainingModel
from mnist_core.training.run_state import ProgressPoint, RunState, RunView, StreamPrediction
from mnist_core.training.schedule import Anneal, LiveParams
from mnist_core.training.status import Status
from mnist_core.training.stepping import StepProbe

PUSH_SECONDS = 0.25  # live progress at most this often
STREAM_SECONDS = 0.5  # test-digit stream, forward timing and published weights at most this often
STREAM_IMAGES = 8
LOSS_WINDOW = 50  # batches in the smoothed loss and accuracy
# Guessing uniformly costs ln(10) = 2.3; a batch loss ten times that means the weights are blowing up.
DIVERGED_LOSS = 10 * math.log(10)


@dataclass(frozen=True)
class StartPoint:
    """Where a continued run's counters start: the totals of the run it continues (all 0 for a fresh one)."""

    epoch: int = 0
    examples_seen: int = 0
    train_seconds: float = 0.0

    @classmethod
    def of(cls, past: RunView | None) -> StartPoint:
        return cls() if past is None else cls(past.epoch, past.examples_seen, past.train_seconds)

    def totals(self, epochs: int, examples_per_epoch: int) -> dict[str, int]:
        """The run's `epochs` and `total_examples` once this job has trained `epochs` more epochs."""
        return {"epochs": self.epoch + epochs, "total_examples": self.examples_seen + epochs * examples_per_epoch}


class PerBatch:
    """Each batch's values, recovered from Keras's running means over a fit call (weighted by examples)."""

    def __init__(self, width: int):
        self._width = width
        self.reset()

    def reset(self) -> None:
        self._means, self._seen = (0.0,) * self._width, 0

    def __call__(self, means: tuple[float, ...], size: int) -> tuple[float, ...]:
        total = self._seen + size
        values = tuple((mean * total - before * self._seen) / size for mean, before in zip(means, self._means))
        self._means, self._seen = tuple(means), total
        return values


class Engine(keras.callbacks.Callback):
    """Trains one run's compiled model on the examples it is given and reports into `state`."""

    def __init__(
        self,
        held: TrainingModel,
        state: RunState,
        *,
        params: Mapping[str, float],
        control: RunState | None = None,
        batch_size: int,
        weight_decay: float,
        examples_per_epoch: int,
        start: StartPoint | None = None,
        stream: Split | None = None,
        crops: int = 4,
        seed: int = 0,
        label: str = "",
        live: bool = True,
        anneal: Anneal | None = None,
        planned_examples: int = 0,
    ):
        """`params`: the optimizer's settings as set; `stream`: test digits to predict live (None: no stream);
        `label`: the optimizer, for messages.

        `live`: report progress and publish weights while fit runs (the Train page); otherwise once per fit call,
        at its end (a race's contestants, whose page draws only their evaluation points).
        `anneal` lowers the learning rate over the end of this engine's `planned_examples` (its owner keeps the
        plan up to date when the run's length changes).
        """
        super().__init__()
        self.held, self.state = held, state
        self.control = control if control is not None else state
        self.predictor = CropPredictor(held.model)
        self.start = start or StartPoint()
        self.examples_per_epoch = examples_per_epoch
        self.stream, self.crops, self.label, self.live = stream, crops, label, live
        self.batch_size = batch_size
        self.set_decay(weight_decay, batch_size)
        self.epoch = 0  # passes completed, set by the run's owner
        self.examples = 0  # this engine's own, as train_seconds
        self.train_seconds = 0.0
        self.diverged = False
        self.last_loss: float | None = None  # the last batch's, diverged or not
        self.last_logs: dict[str, float] = {}  # Keras's means over the last fit call (loss, accuracy)
        self._rng = np.random.default_rng(seed + 1)
        self._losses: deque[float] = deque(maxlen=LOSS_WINDOW)
        self._hits: deque[float] = deque(maxlen=LOSS_WINDOW)
        self._per_batch = PerBatch(2)  # loss and accuracy
        self._step_ms: float | None = None
        self._last_push = self._last_stream = 0.0
        self._chunk = 0
        self._trace_seconds: float | None = None  # the tracing batch's time, if this engine ran it
        self.live = LiveParams(params, applying(Applies.NEXT_BATCH), anneal)
        self.planned_examples = planned_examples
        self._assigned: dict[str, float] = {}  # what the optimizer's variables hold, as last set from `live`
        self._steps = 0  # Steps taken (RunState.request_step)
        self._offset = 0  # where the current fit call started in the examples fit was given

    @property
    def keras_model(self) -> keras.Model:
        return self.held.model

    def set_decay(self, weight_decay: float, batch_size: int) -> None:
        """ConvNetJS's decay per example: the loss gains weight_decay / (2 * batch size) * sum(w^2)."""
        self.weight_decay, self.batch_size = weight_decay, batch_size
        self.held.decay.assign(weight_decay / (2 * batch_size))

    def fit(self, x: np.ndarray, y: np.ndarray) -> None:
        """Train once over these examples, in order, in batches of `batch_size`."""
        self._x, self._y = x, y  # a Step reads its batch from them
        start = 0
        while start < len(y) and not self.diverged:
            self._offset, self._chunk = start, len(y) - start
            try:
                # fit on a tf.data chunk trains ~2x faster than a loop of train_on_batch (measured on 2 cores).
                self.keras_model.fit(
                    batches(x[start:], y[start:], self.batch_size), epochs=1, shuffle=False, verbose=0, callbacks=[self]
                )
                return
            except _Stepped as stepped:  # the fit call would train the stepped batch again: go on after it
                start = stepped.position
        if not self.diverged:  # a Step took the last batch: end the pass as a fit call would
            self.keras_model.optimizer.finalize_variable_values(self.keras_model.trainable_weights)
            self.on_epoch_end(0, self.last_logs)

    def publish(self) -> None:
        self.state.publish_weights(self.keras_model.get_weights())

    def l2_loss(self) -> float:
        coefficient = float(self.held.decay.numpy())
        return coefficient * sum(float(np.sum(np.square(k.numpy()))) for k in decayed_kernels(self.keras_model))

    def smoothed_loss(self) -> float | None:
        """Mean cross-entropy over the recent batches, without the L2 term."""
        return float(np.mean(self._losses)) - self.l2_loss() if self._losses else None

    # --- Keras callback ---
    def on_epoch_begin(self, epoch, logs=None):
        self._fit_start = time.perf_counter()
        self._excluded = 0.0  # seconds inside fit that were not training (pauses, live metrics, the trace)
        self._per_batch.reset()

    # With steps_per_execution > 1 Keras calls these once per group of batches: `batch` is the group's first
    # batch at its beginning and its last at its end; everything below then acts per group.
    def on_train_batch_begin(self, batch, logs=None):
        self._first_batch = batch
        waited = time.perf_counter()
        if self.control.wait_while_paused():
            self.keras_model.stop_training = True
        elif self.control.stepping:
            self._excluded += time.perf_counter() - waited
            self._step(self._offset + batch * self.batch_size)
        self._excluded += time.perf_counter() - waited
        # After the wait: changes made while paused count.
        self.live.change(self.control.take_changes(applying(Applies.NEXT_BATCH)))
        self._set_live_params()
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        loss, hit = float(logs["loss"]), float(logs["accuracy"])  # reading them waits for the step
        now = time.perf_counter()
        size = min(self._chunk, (batch + 1) * self.batch_size) - self._first_batch * self.batch_size
        step_ms = (now - self._batch_start) * 1000 / size
        self._count_trace(now - self._batch_start)
        self._step_ms = step_ms if self._step_ms is None else 0.9 * self._step_ms + 0.1 * step_ms
        self.examples += size
        loss, hit = self._per_batch((loss, hit), size)
        self.last_loss = loss
        if not math.isfinite(loss) or loss > DIVERGED_LOSS:
            return self._diverge(loss)
        self._losses.append(loss)
        self._hits.append(hit)
        if self.live and now - self._last_push >= PUSH_SECONDS:
            self._push(now)
            self._excluded += time.perf_counter() - now

    def on_epoch_end(self, epoch, logs=None):
        self.last_logs = {k: float(v) for k, v in (logs or {}).items()}
        if not self.diverged:
            now = time.perf_counter()
            self._fold_clock(now)
            self._push(now)

    # --- inside ---
    @property
    def learning_rate(self) -> float:
        """The rate the last batch trained with (the anneal's factor included); before any, the next one's."""
        if "learning_rate" in self._assigned:
            return self._assigned["learning_rate"]
        return self.live.for_batch(self.examples, self.planned_examples)["learning_rate"]

    def _set_live_params(self) -> None:
        """Give the optimizer the values `live` computes for this batch, where they differ from what it holds."""
        values = self.live.for_batch(self.examples, self.planned_examples)
        changed = {name: value for name, value in values.items() if self._assigned.get(name) != value}
        if changed:
            set_live_params(self.keras_model.optimizer, changed)
            self._assigned.update(changed)

    def _step(self, position: int) -> None:
        """Train the one batch at `position` (a Step), report what it changed, and end the current fit call.

        Keras trains STEPS_PER_EXECUTION batches per call into the traced step, so the Step trains its batch on
        its own (train_on_batch trains one) and the fit call is ended, to go on after it.
        """
        x, y = self._x[position : position + self.batch_size], self._y[position : position + self.batch_size]
        measured = time.perf_counter()
        probe = StepProbe(self.keras_model, self.predictor, x, y)
        self.keras_model.reset_metrics()  # its logs are then this batch's alone
        started = time.perf_counter()
        logs = self.keras_model.train_on_batch(x, y, return_dict=True)
        trained = time.perf_counter()
        self.examples += len(y)
        loss = self.last_loss = float(logs["loss"])
        self.last_logs = {k: float(v) for k, v in logs.items()}
        self._finish_step(probe, loss)
        self._excluded += (started - measured) + (time.perf_counter() - trained)
        if not math.isfinite(loss) or loss > DIVERGED_LOSS:
            self._diverge(loss)
        else:
            self._fold_clock(time.perf_counter())
        raise _Stepped(position + len(y))

    def _finish_step(self, probe: StepProbe, loss: float) -> None:
        """Report the Step whose batch just trained (its loss: `loss`), and show its weights and counts at once."""
        self._steps += 1
        diverged = not math.isfinite(loss) or loss > DIVERGED_LOSS  # _step then ends the run as diverged
        report = probe.report(self._steps, self.start.examples_seen + self.examples, loss, diverged)
        self.state.update(examples_seen=self.start.examples_seen + self.examples)
        if not diverged:
            self.publish()
        self.state.finish_step(report)

    def _count_trace(self, seconds: float) -> None:
        # A new model's first batch traces its train step; count that batch at the second one's time instead.
        if self.held.traced_batches < 2:
            self.held.traced_batches += 1
            if self.held.traced_batches == 1:
                self._trace_seconds = seconds
            elif self._trace_seconds is not None:
                self._excluded += max(0.0, self._trace_seconds - seconds)

    def _clock(self, now: float) -> float:
        return self.train_seconds + (now - self._fit_start) - self._excluded

    def _fold_clock(self, now: float) -> None:
        """Add the training seconds since the clock last started to `train_seconds`, and start it again."""
        self.train_seconds = self._clock(now)
        # Else a push after this (the epoch's last) counts the same seconds twice.
        self._fit_start, self._excluded = now, 0.0

    def _push(self, now: float) -> None:
        self._last_push = now
        l2 = self.l2_loss()
        train_seconds = self._clock(now)
        examples = self.start.examples_seen + self.examples
        fields = dict(
            epoch=self.start.epoch + self.epoch,
            examples_seen=examples,
            loss=float(np.mean(self._losses)) - l2 if self._losses else None,
            l2_loss=l2,
            train_accuracy=float(np.mean(self._hits)) if self._hits else None,
            ms_step=self._step_ms,
            examples_per_second=self.examples / train_seconds if train_seconds > 0 else None,
            train_seconds=self.start.train_seconds + train_seconds,
            learning_rate=self.learning_rate,
        )
        if now - self._last_stream >= STREAM_SECONDS or not self.live:  # a non-live run publishes each fit's end
            self._last_stream = now
            if self.stream is not None:
                fields["ms_forward"] = self._stream_test_digits()
            self.publish()
        self.state.update(**fields)
        if self._losses:
            self.state.add_progress(
                ProgressPoint(
                    examples,
                    examples / self.examples_per_epoch,
                    fields["loss"],
                    l2,
                    fields["train_accuracy"],
                    fields["train_seconds"],
                )
            )

    def _stream_test_digits(self) -> float:
        """Predict a few random test digits (k crops each); return forward ms per crop."""
        test = self.stream
        index = self._rng.choice(len(test), STREAM_IMAGES, replace=False)
        started = time.perf_counter()
        result = self.predictor.predict(test.x[index], self.crops, seed=int(self._rng.integers(2**31)))
        ms = (time.perf_counter() - started) * 1000 / (STREAM_IMAGES * self.crops)
        top = np.argsort(-result.probabilities, axis=1)[:, :3]
        self.state.add_predictions(
            [
                StreamPrediction(
                    int(i),
                    int(test.y[i]),
                    tuple(int(c) for c in t),
                    tuple(float(result.probabilities[row, c]) for c in t),
                )
                for row, (i, t) in enumerate(zip(index, top))
            ]
        )
        return ms

    def _diverge(self, loss: float) -> None:
        self.diverged = True
        self._fold_clock(time.perf_counter())
        self.keras_model.stop_training = True
        _, weights = self.state.weights()
        if weights is not None:
            self.keras_model.set_weights(weights)
        lr = self.live.learning_rate
        self.state.set_status(
            Status.DIVERGED,
            f"Training diverged: the loss reached {loss:.4g} (guessing scores 2.3) after {self.examples:,} "
            f"examples. The learning rate ({lr:g}) is most likely too high for {self.label}: lower it and press "
            "Reset, then Train. The last good weights were restored.",
        )


class _Stepped(Exception):
    """Raised from the callback after a Step: the fit call ends there and `fit` goes on from `position`."""

    def __init__(self, position: int):
        super().__init__(position)
        self.position = position


def batches(x: np.ndarray, y: np.ndarray, batch_size: int):
    """The training input: images and labels in order, in batches."""
    # A tf.data pipeline trains ~25% faster than handing Keras the numpy arrays.
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(4)
