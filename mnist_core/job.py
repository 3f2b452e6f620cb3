"""A training job: Keras training of one session's model in a background thread, steered through LiveState."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from mnist_core.architecture import PRESETS, ArchitectureError, LayerSpec, build_model, decayed_kernels
from mnist_core.background import BackgroundWork
from mnist_core.budget import check_step_memory
from mnist_core.data import Mnist
from mnist_core.live_state import EpochRecord, LiveState, ProgressPoint, Snapshot, StreamPrediction
from mnist_core.optimizers import set_live_params
from mnist_core.predict import CropPredictor, accuracy, cross_entropy
from mnist_core.settings import LIVE_PER_BATCH, LIVE_PER_EPOCH, TrainSettings
from mnist_core.slots import JobSlots
from mnist_core.training_models import ModelPool, TrainingModel, get_pool, training_model

PUSH_SECONDS = 0.25  # live progress at most this often
STREAM_SECONDS = 0.5  # test-digit stream, forward timing and published weights at most this often
STREAM_IMAGES = 8
LOSS_WINDOW = 50  # batches in the smoothed loss and accuracy
# Guessing uniformly costs ln(10) = 2.3; a batch loss ten times that means the weights are blowing up.
DIVERGED_LOSS = 10 * math.log(10)
RESET_FIELDS = ("optimizer", "preset", "seed", "averaging")  # a running job cannot take these


@dataclass
class ChangeReport:
    """What a settings change does to a running job."""

    applied: list[str] = field(default_factory=list)  # fields the job takes on the fly
    needs_reset: list[str] = field(default_factory=list)  # fields that only a new job can use


@dataclass(frozen=True)
class StartPoint:
    """Where a continued run's counters start: the totals of the run it continues (all 0 for a fresh one)."""

    epoch: int = 0
    examples_seen: int = 0
    train_seconds: float = 0.0

    @classmethod
    def of(cls, past: Snapshot | None) -> StartPoint:
        return cls() if past is None else cls(past.epoch, past.examples_seen, past.train_seconds)

    def totals(self, epochs: int, examples_per_epoch: int) -> dict[str, int]:
        """The run's `epochs` and `total_examples` once this job has trained `epochs` more epochs."""
        return {"epochs": self.epoch + epochs, "total_examples": self.examples_seen + epochs * examples_per_epoch}


class TrainingJob(BackgroundWork):
    """Trains a model for `settings` on `data` in a daemon thread; never touches streamlit.

    A fresh model by default; with `initial_weights` (as from build_model(layers, seed).get_weights(), e.g. a
    loaded snapshot's) it continues from those. Only the weights carry over: the optimizer's state (Adadelta's
    and Adam's running averages, momentum, the weight average) starts fresh. With `history` (the earlier run's
    metrics) the epochs, examples seen, training time and charts go on from where that run stopped, and this
    job trains `settings.epochs` more epochs.

    The thread takes one of `slots` (the process-wide ones by default) and waits, status "queued", until it can.
    Its compiled model comes from `pool` (the process-wide one by default) when an ended job left one there for
    the same network and optimizer, and goes back there when this job ends (ModelPool(0) keeps none).
    """

    def __init__(
        self,
        settings: TrainSettings,
        data: Mnist,
        layers: list[LayerSpec] | None = None,
        *,
        slots: JobSlots | None = None,
        pool: ModelPool | None = None,
        initial_weights: Sequence[np.ndarray] | None = None,
        history: Snapshot | None = None,
    ):
        self.settings = settings
        self.layers = layers if layers is not None else PRESETS[settings.preset]
        self.data = data
        self.initial_weights = list(initial_weights) if initial_weights is not None else None
        self.start_point = StartPoint.of(history)
        self.state = LiveState(**self.start_point.totals(settings.epochs, len(data.train)), past=history)
        self._pool = pool if pool is not None else get_pool()
        self._training: TrainingModel | None = None
        self._final_weights: list[np.ndarray] | None = None
        self._final_model: keras.Model | None = None
        super().__init__("mnist-live-training", slots)

    def start(self) -> None:
        """Queue for a slot and train; a step over the memory budget ends the job at once, with its message."""
        try:
            problem = check_step_memory(self.layers, self.settings.batch_size)  # before queueing or building
        except ArchitectureError:
            problem = None  # the thread reports it, as any network that cannot be built
        if problem:
            self.state.set_status("error", problem)
            return
        super().start()

    @property
    def model(self) -> keras.Model | None:
        """The network being trained; once the job has ended (read it after join), a copy of its final weights.

        The pages use the published weights (LiveState) instead: the trained model itself goes back to the pool.
        """
        held = self._training
        if held is not None:
            return held.model
        if self._final_model is None and self._final_weights is not None:
            self._final_model = build_model(self.layers, self.settings.seed)
            self._final_model.set_weights(self._final_weights)
        return self._final_model

    def change(self, new: TrainSettings) -> ChangeReport:
        """Queue the live-changeable differences from the current settings; report the rest."""
        report = ChangeReport()
        old = self.settings
        report.needs_reset = [n for n in RESET_FIELDS if _field(new, n) != _field(old, n)]
        live = {}
        for key, value in new.optimizer.params.items():
            if new.optimizer.name != old.optimizer.name or value == old.optimizer.params.get(key):
                continue
            if key in LIVE_PER_BATCH:
                live[key] = value
            else:
                report.needs_reset.append(key)
        for key in (*LIVE_PER_EPOCH, "epochs", "crops"):
            if getattr(new, key) != getattr(old, key):
                live[key] = getattr(new, key)
        if "batch_size" in live and check_step_memory(self.layers, live["batch_size"]):
            del live["batch_size"]  # over the memory budget: the sidebar says so and keeps it from the job
        if live:
            self.state.queue_changes(live)
            report.applied = sorted(live)
            params = {**old.optimizer.params, **{k: v for k, v in live.items() if k in LIVE_PER_BATCH}}
            self.settings = old.with_(
                optimizer=type(old.optimizer)(old.optimizer.name, params),
                **{k: v for k, v in live.items() if k not in LIVE_PER_BATCH},
            )
        return report

    # --- the training thread ---
    def _run(self) -> None:
        state = self.state
        try:
            state.set_status("starting", "Building the network")
            self._training = training_model(self.layers, self.settings, self.initial_weights, self._pool)
            self._train(self._training.model, self._training.decay)
        except Exception as exc:  # noqa: BLE001 - the page shows it; the thread must not die silently
            state.set_status("error", f"Training failed: {type(exc).__name__}: {exc}")
            self._hand_back(keep=False)  # whatever failed may have left the model unusable
        else:
            self._hand_back(keep=True)

    def _hand_back(self, keep: bool) -> None:
        """Keep the final weights for `model`; the compiled model goes back to the pool if `keep`."""
        held = self._training
        if held is None:
            return
        self._final_weights = held.model.get_weights()
        self._training = None
        if keep:
            self._pool.give_back(held)

    def _train(self, model: keras.Model, decay: keras.Variable) -> None:
        state, data = self.state, self.data
        predictor = CropPredictor(model)
        callback = _LiveCallback(self, model, predictor, decay)
        state.publish_weights(model.get_weights())
        state.set_status("running", "Training")
        epoch = 0
        while epoch < callback.epochs and not state.stop_requested:
            callback.apply_epoch_changes()
            # Seeded by the overall epoch: a continued run does not replay the order of the run it continues.
            overall = self.start_point.epoch + epoch
            order = np.random.default_rng([self.settings.seed, overall]).permutation(len(data.train))
            model.fit(
                batches(data.train.x[order], data.train.y[order], callback.batch_size),
                epochs=epoch + 1,
                initial_epoch=epoch,
                shuffle=False,
                verbose=0,
                callbacks=[callback],
            )
            if callback.diverged:
                return
            epoch += 1
        stopped = state.stop_requested or epoch < callback.epochs
        done = f"{'Stopped' if stopped else 'Finished'} after {epoch} epochs"
        if self.start_point.epoch or self.start_point.examples_seen:
            done += f", continuing a run of {self.start_point.examples_seen:,} examples"
        state.set_status("stopped" if stopped else "finished", done)


def batches(x: np.ndarray, y: np.ndarray, batch_size: int):
    """The training input: images and labels in order, in batches."""
    # A tf.data pipeline trains ~25% faster than handing Keras the numpy arrays.
    import tensorflow as tf

    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(4)


def _field(settings: TrainSettings, name: str):
    return settings.optimizer.name if name == "optimizer" else getattr(settings, name)


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


class _LiveCallback(keras.callbacks.Callback):
    """Applies queued changes, honours pause/stop, detects divergence and feeds LiveState."""

    def __init__(self, job: TrainingJob, model: keras.Model, predictor: CropPredictor, decay: keras.Variable):
        super().__init__()
        self.job, self.predictor, self.decay = job, predictor, decay
        self.state = job.state
        self.start = job.start_point  # counters as shown = the continued run's totals + this job's own
        self.epochs = job.settings.epochs
        self.batch_size = job.settings.batch_size
        self.weight_decay = job.settings.weight_decay
        self.crops = job.settings.crops
        self.diverged = False
        self._keras_model = model
        self._rng = np.random.default_rng(job.settings.seed + 1)
        self._examples = 0  # this job's own, as _epoch and _train_seconds
        self._epoch = 0
        self._excluded = 0.0  # seconds inside fit that were not training (pauses, metrics, evaluation)
        self._train_seconds = 0.0
        self._losses: deque[float] = deque(maxlen=LOSS_WINDOW)
        self._hits: deque[float] = deque(maxlen=LOSS_WINDOW)
        self._per_batch = PerBatch(2)  # loss and accuracy
        self._step_ms: float | None = None
        self._last_push = self._last_stream = 0.0

    def apply_epoch_changes(self) -> None:
        changes = self.state.take_changes((*LIVE_PER_EPOCH, "epochs", "crops"))
        self.batch_size = changes.get("batch_size", self.batch_size)
        self.weight_decay = changes.get("weight_decay", self.weight_decay)
        self.epochs = changes.get("epochs", self.epochs)
        self.crops = changes.get("crops", self.crops)
        self.decay.assign(self.weight_decay / (2 * self.batch_size))
        self.state.update(**self.start.totals(self.epochs, len(self.job.data.train)))

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._epoch_start = time.perf_counter()
        self._excluded = 0.0
        self._per_batch.reset()

    def on_train_batch_begin(self, batch, logs=None):
        waited = time.perf_counter()
        if self.state.wait_while_paused():
            self._keras_model.stop_training = True
        self._excluded += time.perf_counter() - waited
        changes = self.state.take_changes(LIVE_PER_BATCH)  # after the wait: changes made while paused count
        if changes:
            set_live_params(self._keras_model.optimizer, changes)
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        now = time.perf_counter()
        n_train = len(self.job.data.train)
        size = min(self.batch_size, n_train - batch * self.batch_size)
        step_ms = (now - self._batch_start) * 1000 / size
        self._step_ms = step_ms if self._step_ms is None else 0.9 * self._step_ms + 0.1 * step_ms
        self._examples += size
        loss, hit = self._per_batch((float(logs["loss"]), float(logs["accuracy"])), size)
        if not math.isfinite(loss) or loss > DIVERGED_LOSS:
            return self._diverge(loss)
        self._losses.append(loss)
        self._hits.append(hit)
        if now - self._last_push >= PUSH_SECONDS:
            self._push(now)
            self._excluded += time.perf_counter() - now

    def _train_clock(self, now: float) -> float:
        return self._train_seconds + (now - self._epoch_start) - self._excluded

    def _push(self, now: float) -> None:
        self._last_push = now
        l2 = float(self.decay.numpy()) * sum(
            float(np.sum(np.square(k.numpy()))) for k in decayed_kernels(self._keras_model)
        )
        train_seconds = self._train_clock(now)
        examples = self.start.examples_seen + self._examples
        fields = dict(
            epoch=self.start.epoch + self._epoch,
            examples_seen=examples,
            loss=float(np.mean(self._losses)) - l2,
            l2_loss=l2,
            train_accuracy=float(np.mean(self._hits)),
            ms_step=self._step_ms,
            examples_per_second=self._examples / train_seconds if train_seconds > 0 else None,
            train_seconds=self.start.train_seconds + train_seconds,
        )
        if now - self._last_stream >= STREAM_SECONDS:
            self._last_stream = now
            fields["ms_forward"] = self._stream_test_digits()
            self.state.publish_weights(self._keras_model.get_weights())
        self.state.update(**fields)
        self.state.add_progress(
            ProgressPoint(
                examples,
                examples / len(self.job.data.train),
                fields["loss"],
                l2,
                fields["train_accuracy"],
                fields["train_seconds"],
            )
        )

    def _stream_test_digits(self) -> float:
        """Predict a few random test digits (k crops each); return forward ms per crop."""
        test = self.job.data.test
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
        self._keras_model.stop_training = True
        _, weights = self.state.weights()
        if weights is not None:
            self._keras_model.set_weights(weights)
        lr = self.job.settings.optimizer.params["learning_rate"]
        self.state.set_status(
            "diverged",
            f"Training diverged: the loss reached {loss:.4g} (guessing scores 2.3) after {self._examples:,} "
            "examples. The learning rate "
            f"({lr:g}) is most likely too high for {self.job.settings.optimizer.label}: lower it and press "
            "Reset, then Train. The last good weights were restored.",
        )

    def on_epoch_end(self, epoch, logs=None):
        if self.diverged:
            return
        now = time.perf_counter()
        self._train_seconds = self._train_clock(now)
        self._push(now)
        # Evaluate (and train on from here) the averaged weights; fit would write them back at its end anyway.
        self._keras_model.optimizer.finalize_variable_values(self._keras_model.trainable_variables)
        self.state.publish_weights(self._keras_model.get_weights())
        data = self.job.data
        val = self.predictor.predict_center(data.validation.x)
        center = self.predictor.predict_center(data.test.x)
        crops = self.predictor.predict(data.test.x, self.crops, seed=self.job.settings.seed).probabilities
        self.state.add_epoch(
            EpochRecord(
                epoch=self.start.epoch + epoch + 1,
                examples_seen=self.start.examples_seen + self._examples,
                train_seconds=self.start.train_seconds + self._train_seconds,
                train_loss=float(logs["loss"]),
                train_accuracy=float(logs["accuracy"]),
                validation_loss=cross_entropy(val, data.validation.y),
                validation_accuracy=accuracy(val, data.validation.y),
                test_accuracy_center=accuracy(center, data.test.y),
                test_accuracy_crops=accuracy(crops, data.test.y),
                crops=self.crops,
            )
        )
        self.state.update(epoch=self.start.epoch + epoch + 1)
