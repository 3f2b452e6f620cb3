"""A training job: Keras training of one session's model in a background thread, steered through RunState."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import keras
import numpy as np

from mnist_core.data.mnist import Mnist
from mnist_core.data.own_digits import ExtraDigits
from mnist_core.model.architecture import PRESETS, ArchitectureError, LayerSpec, build_model
from mnist_core.model.budget import check_step_memory
from mnist_core.runtime.queue import JobQueue
from mnist_core.runtime.speed import server_speed
from mnist_core.settings import Applies, SettingsChange, TrainSettings, applying, settings_change, with_changes
from mnist_core.training.counts import StartPoint
from mnist_core.training.engine import Engine
from mnist_core.training.epoch_eval import EpochEnd, EpochEvaluator
from mnist_core.training.model_pool import ModelPool, TrainingModel, get_pool, training_model
from mnist_core.training.run import BackgroundRun
from mnist_core.training.run_state import EpochRecord, RunState, RunView
from mnist_core.training.schedule import Anneal
from mnist_core.training.status import Status


@dataclass(frozen=True)
class ChangeReport:
    """What a settings change did to a running job."""

    change: SettingsChange = field(default_factory=SettingsChange)

    @property
    def applied(self) -> list[str]:
        """The fields the job took on the fly."""
        return sorted(self.change.live)

    @property
    def needs_reset(self) -> list[str]:
        """The fields only a new job can use."""
        return list(self.change.new_run)


class TrainingJob(BackgroundRun):
    """Trains a model for `settings` on `data` in a daemon thread; never touches streamlit.

    A fresh model by default; with `initial_weights` (as from build_model(layers, seed).get_weights(), e.g. a
    loaded snapshot's) it continues from those. Only the weights carry over: the optimizer's state (Adadelta's
    and Adam's running averages, momentum, the weight average) starts fresh. With `history` (the earlier run's
    metrics) the epochs, examples seen, training time and charts go on from where that run stopped, and this
    job trains `settings.epochs` more epochs.

    With `extra` (saved digits, mnist_core.data.own_digits) their training part is mixed into every epoch at their
    share, through the same shuffle and random crops, so an epoch has that many more examples; each epoch's record
    also reads their held-out part (EpochRecord.own_accuracy). The pages hand them over: the job never reads a store.

    The thread takes a slot of `queue` (the process-wide job queue by default) and waits, status QUEUED, until it can.
    Its compiled model comes from `pool` (the process-wide one by default) when an ended job left one there for
    the same network and optimizer, and goes back there when this job ends (ModelPool(0) keeps none).
    """

    def __init__(
        self,
        settings: TrainSettings,
        data: Mnist,
        layers: list[LayerSpec] | None = None,
        *,
        queue: JobQueue | None = None,
        pool: ModelPool | None = None,
        initial_weights: Sequence[np.ndarray] | None = None,
        history: RunView | None = None,
        extra: ExtraDigits | None = None,
    ):
        self.settings = settings
        self.layers = layers if layers is not None else PRESETS[settings.preset]
        self.data = data
        self.extra = extra
        # An epoch's examples: MNIST's training set and, with extra digits, their repeats.
        self.epoch_size = len(data.train) + (extra.per_epoch(len(data.train)) if extra is not None else 0)
        self.initial_weights = list(initial_weights) if initial_weights is not None else None
        self.start_point = StartPoint.of(history)
        self.state = RunState(**self.start_point.totals(settings.epochs, self.epoch_size), past=history)
        self._pool = pool if pool is not None else get_pool()
        self._training: TrainingModel | None = None
        self._final_weights: list[np.ndarray] | None = None
        self._final_model: keras.Model | None = None
        super().__init__("mnist-live-training", queue)

    def start(self) -> None:
        """Queue for a slot and train; a step over the memory budget ends the job at once, with its message."""
        try:
            problem = check_step_memory(self.layers, self.settings.batch_size)  # before queueing or building
        except ArchitectureError:
            problem = None  # the thread reports it, as any network that cannot be built
        if problem:
            self.state.set_status(Status.ERROR, problem)
            return
        super().start()

    @property
    def model(self) -> keras.Model | None:
        """The network being trained; once the job has ended (read it after join), a copy of its final weights.

        The pages use the published weights (RunState) instead: the trained model itself goes back to the pool.
        """
        held = self._training
        if held is not None:
            return held.model
        if self._final_model is None and self._final_weights is not None:
            self._final_model = build_model(self.layers, self.settings.seed)
            self._final_model.set_weights(self._final_weights)
        return self._final_model

    def change(self, new: TrainSettings) -> ChangeReport:
        """Hand the job the changes it can take now (settings.Applies says which); report them and the rest."""
        change = settings_change(self.settings, new)
        if "batch_size" in change.next_epoch and check_step_memory(self.layers, change.next_epoch["batch_size"]):
            change = change.without("batch_size")  # over the memory budget: the sidebar says so and keeps it
        if change.live:
            self.state.queue_changes(change.live)
            self.settings = with_changes(self.settings, change.live)
        return ChangeReport(change)

    # --- the training thread ---
    def _run(self) -> None:
        state = self.state
        try:
            state.set_status(Status.STARTING, "Building the network")
            self._training = training_model(self.layers, self.settings, self.initial_weights, self._pool)
            self._train(self._training)
        except Exception as exc:  # noqa: BLE001 - the page shows it; the thread must not die silently
            state.set_status(Status.ERROR, f"Training failed: {type(exc).__name__}: {exc}")
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

    def _engine(self, held: TrainingModel) -> Engine:
        settings = self.settings
        return Engine(
            held,
            self.state,
            params=settings.optimizer.params,
            batch_size=settings.batch_size,
            weight_decay=settings.weight_decay,
            examples_per_epoch=self.epoch_size,
            start=self.start_point,
            stream=self.data.test,
            crops=settings.crops,
            seed=settings.seed,
            label=settings.optimizer.label,
            anneal=Anneal(settings.anneal),
            planned_examples=settings.epochs * self.epoch_size,
        )

    def _train(self, held: TrainingModel) -> None:
        state, data = self.state, self.data
        engine = self._engine(held)
        self.epochs = self.settings.epochs
        engine.publish()
        state.set_status(Status.RUNNING, "Training")
        extra = self.extra
        evaluator = EpochEvaluator(self.layers, self.settings.seed, data, state, extra.split if extra else None)
        x, y = data.train.x, data.train.y
        if extra is not None:  # mixed once: each epoch only reorders them
            mix = extra.mixed(x, y)
            x, y = mix.x, mix.y
        while engine.epoch < self.epochs and not state.stop_requested:
            self._apply_epoch_changes(engine)
            # Seeded by the overall epoch: a continued run does not replay the order of the run it continues.
            overall = self.start_point.epoch + engine.epoch
            order = np.random.default_rng([self.settings.seed, overall]).permutation(len(y))
            trained = engine.fit(x[order], y[order])
            if engine.diverged:
                evaluator.wait()  # the earlier passes' records still count
                return
            if not trained:  # stopped before this pass trained a batch: nothing new to evaluate
                break
            engine.publish()
            evaluator.submit(self._epoch_end(engine))
            engine.epoch += 1
            state.update(epoch=self.start_point.epoch + engine.epoch)
            # A target decides whether the run goes on: only then does the next pass wait for this one's answer.
            if self.settings.stop_at and self._reached_target(evaluator.wait()):
                break
        if evaluator.pending:
            state.set_status(Status.RUNNING, "Evaluating the last epoch")
        # Evaluating needs neither the training slot nor the traced model: the next run in line takes both now.
        self._hand_back(keep=True)
        self._release_slot()
        evaluator.wait()
        reached = self._reached_target(state.view().last_epoch)
        stopped = (state.stop_requested or engine.epoch < self.epochs) and not reached
        done = f"{'Stopped' if stopped else 'Finished'} after {engine.epoch} epochs"
        self._record_speed(state.view())
        if reached:
            done = (
                f"Reached {self.settings.stop_at:g}% test accuracy after {engine.epoch} epochs "
                f"({engine.examples:,} examples): stopped there, as asked"
            )
        if self.start_point.epoch or self.start_point.examples_seen:
            done += f", continuing a run of {self.start_point.examples_seen:,} examples"
        state.set_status(Status.STOPPED if stopped else Status.FINISHED, done)

    def _record_speed(self, view: RunView) -> None:
        """A default-sized run's measured speed becomes the server's, for the Train page's promise."""
        defaults = TrainSettings()
        if (self.settings.preset, self.settings.batch_size) == (defaults.preset, defaults.batch_size):
            server_speed().record(view.examples_per_second, "a finished run")

    def _reached_target(self, record: EpochRecord | None) -> bool:
        target = self.settings.stop_at
        return bool(target) and record is not None and record.test_accuracy_crops * 100 >= target

    def _apply_epoch_changes(self, engine: Engine) -> None:
        changes = self.state.take_changes(applying(Applies.NEXT_EPOCH))
        engine.set_decay(changes.get("weight_decay", engine.weight_decay), changes.get("batch_size", engine.batch_size))
        self.epochs = changes.get("epochs", self.epochs)
        engine.crops = changes.get("crops", engine.crops)
        engine.live.anneal = Anneal(changes.get("anneal", engine.live.anneal.fraction))
        engine.planned_examples = self.epochs * self.epoch_size
        self.state.update(**self.start_point.totals(self.epochs, self.epoch_size))

    def _epoch_end(self, engine: Engine) -> EpochEnd:
        """The pass that just ended, for its evaluation: on the averaged weights (fit wrote them back at its end),
        as published just before."""
        start = self.start_point
        return EpochEnd(
            epoch=start.epoch + engine.epoch + 1,
            examples_seen=start.examples_seen + engine.examples,
            train_seconds=start.train_seconds + engine.train_seconds,
            train_loss=engine.last_logs["loss"],
            train_accuracy=engine.last_logs["accuracy"],
            crops=engine.crops,
            weights=self.state.weights()[1],  # the copy publish() just made, not another one
        )
