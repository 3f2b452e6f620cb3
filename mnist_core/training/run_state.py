"""The one lock-protected object shared by a training thread and the page that watches it."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

from mnist_core.training.status import Status

MAX_PROGRESS_POINTS = 1000
RECENT_PREDICTIONS = 200


@dataclass(frozen=True)
class ProgressPoint:
    examples_seen: int
    epoch: float
    loss: float  # smoothed cross-entropy
    l2_loss: float
    train_accuracy: float  # smoothed
    train_seconds: float


@dataclass(frozen=True)
class EpochRecord:
    epoch: int
    examples_seen: int
    train_seconds: float
    train_loss: float
    train_accuracy: float
    validation_loss: float
    validation_accuracy: float
    test_accuracy_center: float
    test_accuracy_crops: float
    crops: int
    eval_seconds: float = 0.0  # the evaluation's own wall time, not part of train_seconds
    wall_seconds: float = 0.0  # from the job getting its training slot (building included) to this record
    own_accuracy: float | None = None  # k-crop accuracy on the held-out part of the run's extra digits, if any


@dataclass(frozen=True)
class StreamPrediction:
    index: int
    label: int
    classes: tuple[int, int, int]
    probabilities: tuple[float, float, float]

    @property
    def correct(self) -> bool:
        return self.classes[0] == self.label


@dataclass(frozen=True, eq=False)
class LayerUpdate:
    """How far one layer's weights moved in a step: norm of the update relative to the weights' norm."""

    name: str
    update_norm: float
    weight_norm: float

    @property
    def relative(self) -> float:
        return self.update_norm / self.weight_norm if self.weight_norm > 0 else float("inf")


# eq=False: the generated __eq__ would compare numpy arrays and raise.
@dataclass(frozen=True, eq=False)
class StepReport:
    """What one Step (a single batch trained while paused) changed: loss, predictions and each layer's weights.

    Losses and predictions are the centre crop's on the whole batch, before and after the update; `images`,
    `labels`, `before` and `after` are the first up to STEP_IMAGES of the batch.
    """

    number: int  # steps taken in this run so far, this one included
    batch_size: int
    examples_seen: int  # after the step
    loss_before: float
    loss_after: float
    accuracy_before: float
    accuracy_after: float
    train_loss: float  # Keras's loss of the step itself (random crops, with the L2 term)
    iterations_before: int
    iterations_after: int
    layers: tuple[LayerUpdate, ...]
    images: Any  # (n, 28, 28) uint8
    labels: Any  # (n,) int
    before: Any  # (n,) predicted classes before the update
    after: Any  # (n,) after
    diverged: bool = False


STEP_IMAGES = 32


@dataclass(frozen=True)
class RunView:
    """A consistent copy of everything the page draws."""

    status: Status = Status.STARTING
    message: str = ""
    queue_position: int = 0  # n > 0: n-th in line for a training slot; 0: holding one (or never queued)
    epoch: int = 0
    epochs: int = 0
    examples_seen: int = 0
    total_examples: int = 0
    loss: float | None = None
    l2_loss: float | None = None
    train_accuracy: float | None = None
    ms_forward: float | None = None
    ms_step: float | None = None
    examples_per_second: float | None = None
    learning_rate: float | None = None  # the rate in use now: the one set, times the anneal's factor
    elapsed_seconds: float = 0.0
    train_seconds: float = 0.0
    progress: tuple[ProgressPoint, ...] = ()
    history: tuple[EpochRecord, ...] = ()
    recent: tuple[StreamPrediction, ...] = ()
    weights_version: int = 0
    step: StepReport | None = None  # the last Step's report
    step_pending: bool = False  # a Step was requested and its batch has not been reported yet

    @property
    def final(self) -> bool:
        return Status(self.status).final

    @property
    def last_epoch(self) -> EpochRecord | None:
        return self.history[-1] if self.history else None

    @property
    def recent_accuracy(self) -> float | None:
        return sum(p.correct for p in self.recent) / len(self.recent) if self.recent else None


@dataclass
class _Control:
    paused: bool = False
    stop: bool = False
    changes: dict[str, Any] = field(default_factory=dict)
    steps: int = 0  # Steps requested and not yet let past the pause (at most one)
    stepping: bool = False  # a Step's batch is past the pause and not yet reported


class RunState:
    """Metrics, status, control requests and the published weights of one training job, under one lock."""

    def __init__(self, epochs: int, total_examples: int, past: RunView | None = None):
        """`past`: the metrics of an earlier run this job continues (a loaded snapshot); its charts go on from them."""
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._snap = RunView(epochs=epochs, total_examples=total_examples)
        self._progress: list[ProgressPoint] = []
        self._stride = 1  # keep every _stride-th point once the history is full
        self._offered = 0
        self._history: list[EpochRecord] = []
        if past is not None:
            self._snap = replace(
                self._snap, epoch=past.epoch, examples_seen=past.examples_seen, train_seconds=past.train_seconds
            )
            self._history = list(past.history)
            self._progress = list(past.progress)
            while len(self._progress) > MAX_PROGRESS_POINTS:  # as add_progress would have thinned them
                self._progress = self._progress[::2]
                self._stride *= 2
        self._recent: deque[StreamPrediction] = deque(maxlen=RECENT_PREDICTIONS)
        self._control = _Control()
        self._weights: list | None = None
        self._step: StepReport | None = None
        self._started = time.monotonic()

    # --- control, written by the page, read by the job ---
    def request_pause(self) -> None:
        with self._lock:
            # A queued job has nothing to pause yet, and a paused one would hold its slot once granted.
            if not self._snap.final and not self._control.stop and self._snap.status is not Status.QUEUED:
                self._control.paused = True
                self._snap = replace(self._snap, status=Status.PAUSED)

    def request_resume(self) -> None:
        with self._lock:
            if self._control.paused and not self._snap.final:
                self._control.paused = False
                self._control.steps = 0  # a Step not yet let through would fire at the next pause
                self._snap = replace(self._snap, status=Status.RUNNING)
                self._wake.notify_all()

    def request_stop(self) -> None:
        with self._lock:
            self._control.stop = True
            self._control.paused = False
            self._control.steps = 0
            if not self._snap.final:
                self._snap = replace(self._snap, status=Status.STOPPING)
            self._wake.notify_all()

    def queue_changes(self, changes: dict[str, Any]) -> None:
        with self._lock:
            self._control.changes.update(changes)

    def take_changes(self, keys: tuple[str, ...]) -> dict[str, Any]:
        """Remove and return the queued changes among `keys`."""
        with self._lock:
            return {k: self._control.changes.pop(k) for k in keys if k in self._control.changes}

    def wait_while_paused(self) -> bool:
        """Block the job while paused (a requested Step lets one batch through); return True when it should stop."""
        with self._lock:
            while self._control.paused and not self._control.stop:
                if self._control.steps:
                    self._control.steps -= 1
                    self._control.stepping = True
                    break
                self._wake.wait(timeout=1.0)
            return self._control.stop

    @property
    def halt_requested(self) -> bool:
        """A pause or a stop was asked for: the engine stops after the group of batches it is training."""
        with self._lock:
            return self._control.paused or self._control.stop

    # --- Step: one batch past the pause ---
    def request_step(self) -> str | None:
        """Let exactly one batch past the pause; None when granted, else why not (for the page)."""
        with self._lock:
            control, status = self._control, self._snap.status
            if self._snap.final:
                return f"This run has ended ({status}): Step trains a paused run. Press Reset, then Train or Step."
            if control.stop:
                return "This run is stopping: Step trains a paused run."
            if status.waiting:
                return "This run is waiting for a free training slot: Step works once it has one."
            if not control.paused:
                return "Step trains a paused run: press Pause first."
            if control.steps or control.stepping:
                return "The previous step is still training its batch: wait for its report, then step again."
            control.steps = 1
            self._wake.notify_all()
            return None

    @property
    def stepping(self) -> bool:
        """True while a Step's batch is being trained (read by the engine around that batch)."""
        with self._lock:
            return self._control.stepping

    def finish_step(self, report: StepReport) -> None:
        with self._lock:
            self._control.stepping = False
            self._step = report
            self._wake.notify_all()

    def wait_for_step(self, number: int, timeout: float) -> StepReport | None:
        """Wait up to `timeout` s for the report of step `number`; the latest report (maybe older) or None."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while (self._step is None or self._step.number < number) and not self._snap.final:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._wake.wait(timeout=min(left, 0.5))
            return self._step

    @property
    def steps_taken(self) -> int:
        with self._lock:
            return self._step.number if self._step is not None else 0

    @property
    def stop_requested(self) -> bool:
        with self._lock:
            return self._control.stop

    # --- metrics, written by the job ---
    def set_queue_position(self, position: int) -> None:
        """n > 0: the job is n-th in line for a training slot; 0: it has one and starts."""
        with self._lock:
            if self._snap.final or self._control.stop:
                self._snap = replace(self._snap, queue_position=position)
            elif position:
                self._snap = replace(self._snap, status=Status.QUEUED, queue_position=position, message="")
            elif self._control.paused:  # started paused (Step before a run): it holds its slot, paused
                self._snap = replace(self._snap, status=Status.PAUSED, queue_position=0, message="")
                self._started = time.monotonic()
            else:
                self._snap = replace(self._snap, status=Status.STARTING, queue_position=0, message="")
                self._started = time.monotonic()  # the status line's seconds: in line, then training, not both

    def set_status(self, status: Status, message: str = "") -> None:
        status = Status(status)
        with self._lock:
            if self._snap.status is Status.PAUSED and status in (Status.STARTING, Status.RUNNING):
                return  # a pause requested meanwhile wins
            position = self._snap.queue_position if status.waiting else 0
            self._snap = replace(self._snap, status=status, message=message, queue_position=position)

    def elapsed(self) -> float:
        """Seconds since the job got its training slot (or since this state was made, before that)."""
        return time.monotonic() - self._started

    def update(self, **fields: Any) -> None:
        """Set scalar tiles (examples_seen, loss, ms_step, ...)."""
        if "status" in fields:
            fields["status"] = Status(fields["status"])
        with self._lock:
            self._snap = replace(self._snap, **fields)

    def add_progress(self, point: ProgressPoint) -> None:
        with self._lock:
            self._offered += 1
            if self._offered % self._stride:
                return
            self._progress.append(point)
            if len(self._progress) > MAX_PROGRESS_POINTS:
                self._progress = self._progress[::2]  # bounded: halve the resolution, keep the span
                self._stride *= 2

    def add_epoch(self, record: EpochRecord) -> None:
        with self._lock:
            self._history.append(record)

    def add_predictions(self, predictions: list[StreamPrediction]) -> None:
        with self._lock:
            self._recent.extend(predictions)

    def publish_weights(self, weights: list) -> None:
        """Publish a complete copy of the model weights (numpy arrays) for inference elsewhere."""
        with self._lock:
            self._weights = weights
            self._snap = replace(self._snap, weights_version=self._snap.weights_version + 1)

    def weights(self) -> tuple[int, list | None]:
        with self._lock:
            return self._snap.weights_version, self._weights

    def view(self) -> RunView:
        with self._lock:
            elapsed = time.monotonic() - self._started
            if not self._snap.final:
                self._snap = replace(self._snap, elapsed_seconds=elapsed)
            control = self._control
            return replace(
                self._snap,
                step=self._step,
                step_pending=bool(control.steps or control.stepping),
                progress=tuple(self._progress),
                history=tuple(self._history),
                recent=tuple(self._recent),
            )
