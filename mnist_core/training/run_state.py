"""The one lock-protected object shared by a training thread and the page that watches it."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any

MAX_PROGRESS_POINTS = 1000
RECENT_PREDICTIONS = 200

# A run's lifecycle; the last four are final. "queued": waiting for a free training slot (mnist_core.runtime.queue);
# "waiting": a race's contestant before the race starts it.
STATUSES = (
    "waiting",
    "queued",
    "starting",
    "running",
    "paused",
    "stopping",
    "finished",
    "stopped",
    "diverged",
    "error",
)
FINAL = ("finished", "stopped", "diverged", "error")


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


@dataclass(frozen=True)
class StreamPrediction:
    index: int
    label: int
    classes: tuple[int, int, int]
    probabilities: tuple[float, float, float]

    @property
    def correct(self) -> bool:
        return self.classes[0] == self.label


@dataclass(frozen=True)
class RunView:
    """A consistent copy of everything the page draws."""

    status: str = "starting"
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

    @property
    def final(self) -> bool:
        return self.status in FINAL

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
        self._started = time.monotonic()

    # --- control, written by the page, read by the job ---
    def request_pause(self) -> None:
        with self._lock:
            # A queued job has nothing to pause yet, and a paused one would hold its slot once granted.
            if not self._snap.final and not self._control.stop and self._snap.status != "queued":
                self._control.paused = True
                self._snap = replace(self._snap, status="paused")

    def request_resume(self) -> None:
        with self._lock:
            if self._control.paused and not self._snap.final:
                self._control.paused = False
                self._snap = replace(self._snap, status="running")
                self._wake.notify_all()

    def request_stop(self) -> None:
        with self._lock:
            self._control.stop = True
            self._control.paused = False
            if not self._snap.final:
                self._snap = replace(self._snap, status="stopping")
            self._wake.notify_all()

    def queue_changes(self, changes: dict[str, Any]) -> None:
        with self._lock:
            self._control.changes.update(changes)

    def take_changes(self, keys: tuple[str, ...]) -> dict[str, Any]:
        """Remove and return the queued changes among `keys`."""
        with self._lock:
            return {k: self._control.changes.pop(k) for k in keys if k in self._control.changes}

    def wait_while_paused(self) -> bool:
        """Block the job while paused; return True when it should stop."""
        with self._lock:
            while self._control.paused and not self._control.stop:
                self._wake.wait(timeout=1.0)
            return self._control.stop

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
                self._snap = replace(self._snap, status="queued", queue_position=position, message="")
            else:
                self._snap = replace(self._snap, status="starting", queue_position=0, message="")
                self._started = time.monotonic()  # the status line's seconds: in line, then training, not both

    def set_status(self, status: str, message: str = "") -> None:
        assert status in STATUSES, status
        with self._lock:
            if self._snap.status == "paused" and status in ("starting", "running"):
                return  # a pause requested meanwhile wins
            position = self._snap.queue_position if status == "queued" else 0
            self._snap = replace(self._snap, status=status, message=message, queue_position=position)

    def elapsed(self) -> float:
        """Seconds since the job got its training slot (or since this state was made, before that)."""
        return time.monotonic() - self._started

    def update(self, **fields: Any) -> None:
        """Set scalar tiles (examples_seen, loss, ms_step, ...)."""
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
            return replace(
                self._snap,
                progress=tuple(self._progress),
                history=tuple(self._history),
                recent=tuple(self._recent),
            )
