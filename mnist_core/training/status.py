"""A run's status, and the questions the pages ask of it: the one place a status is named."""

from __future__ import annotations

from enum import StrEnum


class Status(StrEnum):
    """A run's lifecycle, in order; the last four are final (a run, a race or one of its contestants)."""

    WAITING = "waiting"  # a race's contestant before the race starts it
    QUEUED = "queued"  # waiting for a free training slot (mnist_core.runtime.queue)
    STARTING = "starting"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"
    FINISHED = "finished"
    STOPPED = "stopped"
    DIVERGED = "diverged"
    ERROR = "error"

    @property
    def final(self) -> bool:
        """The run has ended: nothing more will change."""
        return self in (Status.FINISHED, Status.STOPPED, Status.DIVERGED, Status.ERROR)

    @property
    def trained(self) -> bool:
        """It ended with a result worth keeping (an error is the app's failure, not a result)."""
        return self in (Status.FINISHED, Status.STOPPED, Status.DIVERGED)

    @property
    def waiting(self) -> bool:
        """It waits for a free training slot: the page shows its place in line."""
        return self is Status.QUEUED

    @property
    def can_pause(self) -> bool:
        """Pause (or Resume) applies: it holds a slot and is not ending."""
        return not self.final and self not in (Status.QUEUED, Status.STOPPING)

    @property
    def training(self) -> bool:
        """Batches are being trained (or about to be, or are stopping): Step waits for a pause."""
        return self in (Status.STARTING, Status.RUNNING, Status.STOPPING)

    @property
    def failed(self) -> bool:
        """Its message says what went wrong."""
        return self in (Status.DIVERGED, Status.ERROR)

    @property
    def label(self) -> str:
        """How the pages' status lines name it."""
        return _LABELS.get(self, self.value.capitalize())


_LABELS = {Status.STARTING: "Starting…", Status.RUNNING: "Training", Status.STOPPING: "Stopping…"}
