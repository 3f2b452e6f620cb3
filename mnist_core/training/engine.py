"""The training loop every run uses: it trains a model on examples in order, a group of batches per call.

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

import keras
import numpy as np

from mnist_core.data.mnist import Split
from mnist_core.model.architecture import decayed_kernels
from mnist_core.model.optimizers import set_live_params
from mnist_core.model.predict import CropPredictor
from mnist_core.settings import Applies, applying
from mnist_core.training.clock import TrainingClock
from mnist_core.training.counts import PerBatch, StartPoint
from mnist_core.training.model_pool import TrainingModel
from mnist_core.training.run_state import ProgressPoint, RunState, StreamPrediction
from mnist_core.training.schedule import Anneal, LiveParams
from mnist_core.training.status import Status
from mnist_core.training.stepping import StepProbe

PUSH_SECONDS = 0.25  # live progress at most this often
STREAM_SECONDS = 0.5  # test-digit stream, forward timing and published weights at most this often
STREAM_IMAGES = 8
LOSS_WINDOW = 50  # batches in the smoothed loss and accuracy
# Guessing uniformly costs ln(10) = 2.3; a batch loss ten times that means the weights are blowing up.
DIVERGED_LOSS = 10 * math.log(10)
# Batches per call into the traced training loop: the per-call Python work is then paid once per group; pause,
# live changes and progress act per group.
BATCHES_PER_CALL = 16


class Engine:
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

        `live`: report progress and publish weights while it trains (the Train page); otherwise once per `fit` call,
        at its end (a race's contestants, whose page draws only their evaluation points).
        `anneal` lowers the learning rate over the end of this engine's `planned_examples` (its owner keeps the
        plan up to date when the run's length changes).
        """
        self.held, self.state = held, state
        self.control = control if control is not None else state
        self.predictor = CropPredictor(held.model)
        self.start = start or StartPoint()
        self.examples_per_epoch = examples_per_epoch
        self.stream, self.crops, self.label, self.reports_live = stream, crops, label, live
        self.batch_size = batch_size
        self.set_decay(weight_decay, batch_size)
        self.epoch = 0  # passes completed, set by the run's owner
        self.examples = 0  # this engine's own, as train_seconds
        self.clock = TrainingClock()
        self._step_logs: dict[str, float] = {}  # the last Step's batch's loss and accuracy
        self.diverged = False
        self.last_loss: float | None = None  # the last batch's, diverged or not
        self.last_logs: dict[str, float] = {}  # the means over the last uninterrupted stretch (loss, accuracy)
        self._rng = np.random.default_rng(seed + 1)
        self._losses: deque[float] = deque(maxlen=LOSS_WINDOW)
        self._hits: deque[float] = deque(maxlen=LOSS_WINDOW)
        self._per_batch = PerBatch(2)  # loss and accuracy
        self._step_ms: float | None = None
        self._last_push = self._last_stream = 0.0
        self._trace_seconds: float | None = None  # the tracing batch's time, if this engine ran it
        self.live = LiveParams(params, applying(Applies.NEXT_BATCH), anneal)
        self.planned_examples = planned_examples
        self._assigned: dict[str, float] = {}  # what the optimizer's variables hold, as last set from `live`
        self._steps = 0  # Steps taken (RunState.request_step)

    @property
    def train_seconds(self) -> float:
        """This engine's own training seconds (its clock's)."""
        return self.clock.seconds

    @property
    def keras_model(self) -> keras.Model:
        return self.held.model

    def set_decay(self, weight_decay: float, batch_size: int) -> None:
        """ConvNetJS's decay per example: the loss gains weight_decay / (2 * batch size) * sum(w^2)."""
        self.weight_decay, self.batch_size = weight_decay, batch_size
        self.held.decay.assign(weight_decay / (2 * batch_size))

    def fit(self, x: np.ndarray, y: np.ndarray) -> int:
        """Train once over these examples, in order, in batches of `batch_size`; how many it trained.

        Groups of batches train until a pause or a stop is asked for; while paused, each Step trains one batch
        here; Resume goes on from the next batch. The weight average is written over the weights once, when the
        examples are done (or the run stops).
        """
        position, stepped_last, before = 0, False, self.examples
        while position < len(y) and not self.diverged:
            after_pause = self._while_paused(x, y, position)
            if after_pause is None:  # stopped
                break
            stepped_last, position = after_pause != position, after_pause
            if position < len(y) and not self.diverged:
                position, stepped_last = self._train_until_halted(x, y, position), False
            if self.control.stop_requested:
                break
        if not self.diverged:
            self.keras_model.optimizer.finalize_variable_values(self.keras_model.trainable_weights)
        if stepped_last and not self.diverged:  # no stretch of groups ended the pass: show its numbers as one would
            self.last_logs = self._step_logs
            self._push(time.perf_counter())
        return self.examples - before

    def _train_until_halted(self, x: np.ndarray, y: np.ndarray, start: int) -> int:
        """Train from `start` a group of batches per call, until the examples are done, a pause or a stop is asked
        for, or the loss diverges; where it ended."""
        self.keras_model.reset_metrics()  # the logs are then means over this stretch
        self._per_batch.reset()
        self.clock.start()
        position, logs = start, {}
        while position < len(y) and not self.diverged:
            images, labels = group(x, y, position, self.batch_size)
            self._take_live_changes()
            started = time.perf_counter()
            logs = self.keras_model.train_batches(images, labels)
            self._after_group(logs, labels.size, started)
            position += labels.size
            if self.control.halt_requested:
                break
        self.last_logs = {k: float(v) for k, v in logs.items()}
        self.clock.stop()
        if not self.diverged:
            self._push(time.perf_counter())
        return position

    def _while_paused(self, x: np.ndarray, y: np.ndarray, position: int) -> int | None:
        """Wait while the run is paused, training one batch for each Step; where to go on from, or None to stop."""
        while position < len(y) and not self.diverged:
            if self.control.wait_while_paused():
                return None
            if not self.control.stepping:
                return position  # resumed
            position = self._step(x, y, position)
        return position

    def publish(self) -> None:
        self.state.publish_weights(self.keras_model.get_weights())

    def l2_loss(self) -> float:
        coefficient = float(self.held.decay.numpy())
        return coefficient * sum(float(np.sum(np.square(k.numpy()))) for k in decayed_kernels(self.keras_model))

    def smoothed_loss(self) -> float | None:
        """Mean cross-entropy over the recent batches, without the L2 term."""
        return float(np.mean(self._losses)) - self.l2_loss() if self._losses else None

    def _after_group(self, logs: Mapping, size: int, started: float) -> None:
        """Count a group of `size` examples that trained from `started`, report it, and watch for divergence."""
        loss, hit = float(logs["loss"]), float(logs["accuracy"])  # reading them waits for the group
        now = time.perf_counter()
        step_ms = (now - started) * 1000 / size
        self._count_trace(now - started)
        self._step_ms = step_ms if self._step_ms is None else 0.9 * self._step_ms + 0.1 * step_ms
        self.examples += size
        loss, hit = self._per_batch((loss, hit), size)
        self.last_loss = loss
        if not math.isfinite(loss) or loss > DIVERGED_LOSS:
            return self._diverge(loss)
        self._losses.append(loss)
        self._hits.append(hit)
        if self.reports_live and now - self._last_push >= PUSH_SECONDS:
            with self.clock.excluded():
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

    def _take_live_changes(self) -> None:
        """The page's changes to the per-batch settings, into the optimizer before the next batch."""
        self.live.change(self.control.take_changes(applying(Applies.NEXT_BATCH)))
        self._set_live_params()

    def _step(self, x: np.ndarray, y: np.ndarray, position: int) -> int:
        """Train the one batch at `position` (a Step) and report what it changed; the position after it.

        A group of one batch, through the same traced loop as training; only that call counts on the clock.
        """
        x, y = x[position : position + self.batch_size], y[position : position + self.batch_size]
        self._take_live_changes()
        probe = StepProbe(self.keras_model, self.predictor, x, y)
        self.keras_model.reset_metrics()  # its logs are then this batch's alone
        with self.clock.running():
            logs = self.keras_model.train_batches(x[None], y[None])
        self.examples += len(y)
        loss = self.last_loss = float(logs["loss"])
        self._step_logs = {k: float(v) for k, v in logs.items()}
        self._finish_step(probe, loss)
        if not math.isfinite(loss) or loss > DIVERGED_LOSS:
            self._diverge(loss)
        return position + len(y)

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
                self.clock.exclude(max(0.0, self._trace_seconds - seconds))

    def _push(self, now: float) -> None:
        self._last_push = now
        l2 = self.l2_loss()
        train_seconds = self.clock.seconds
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
        if now - self._last_stream >= STREAM_SECONDS or not self.reports_live:  # a non-live run: each fit's end
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
        self.clock.stop()
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


def group(x: np.ndarray, y: np.ndarray, start: int, batch_size: int) -> tuple[np.ndarray, np.ndarray]:
    """The next call's examples from `start`: up to BATCHES_PER_CALL whole batches, (G, B, ...) and (G, B); or,
    with less than a batch left, the short last batch alone, (1, rest, ...)."""
    whole = min(BATCHES_PER_CALL, (len(y) - start) // batch_size)
    size = whole * batch_size if whole else len(y) - start
    shape = (whole, batch_size) if whole else (1, size)
    return x[start : start + size].reshape(*shape, *x.shape[1:]), y[start : start + size].reshape(shape)
