"""A run's training clock: the seconds its batches trained, without what the engine did around them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager


class TrainingClock:
    """Counts wall time while running, less the spans marked as not training (live metrics, the first trace).

    Everything outside `running` (waiting while paused, a Step's measurements, evaluation) is not counted at all.
    Only the training thread uses it.
    """

    def __init__(self) -> None:
        self._total = 0.0  # the spans already counted
        self._since: float | None = None  # when the current span started; None while stopped
        self._excluded = 0.0  # marked inside the current span

    @property
    def seconds(self) -> float:
        """The training seconds so far, the current span included."""
        if self._since is None:
            return self._total
        return self._total + (time.perf_counter() - self._since) - self._excluded

    def start(self) -> None:
        if self._since is None:
            self._since, self._excluded = time.perf_counter(), 0.0

    def stop(self) -> None:
        """Count the current span and stop."""
        self._total, self._since = self.seconds, None

    @contextmanager
    def running(self) -> Iterator[None]:
        """Count this block (stopped again after it, unless it was running before)."""
        was_running = self._since is not None
        self.start()
        try:
            yield
        finally:
            if not was_running:
                self.stop()

    @contextmanager
    def excluded(self) -> Iterator[None]:
        """Do not count this block."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.exclude(time.perf_counter() - started)

    def exclude(self, seconds: float) -> None:
        """Do not count `seconds` of the current span (a span measured elsewhere, e.g. the first batch's trace)."""
        if self._since is not None:
            self._excluded += seconds
