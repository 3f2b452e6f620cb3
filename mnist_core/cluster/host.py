"""The actor's side: one Ray actor process hosts one TrainingJob or Race, the same engine as in the server.

The web process's proxy (mnist_core.cluster.remote) calls these methods; each returns at once (the run trains
in its own thread here, as it would in the server), and everything returned pickles: RunView, RaceView,
ChangeReport, TrainSettings, lists of numpy arrays.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from mnist_core.data.mnist import Mnist
from mnist_core.runtime.queue import JobQueue
from mnist_core.settings import TrainSettings
from mnist_core.training.status import Status

CONTROLS = ("pause", "resume", "stop")  # what a page may ask of a run on the cluster, beside changing its settings


class RunHost:
    """A TrainingJob (`kind` "job") or a Race (`kind` "race") built from `options` on `data`, in this process."""

    def __init__(self, kind: str, data: Mnist, options: dict[str, Any]):
        self._kind, self._data, self._options = kind, data, options
        self._run = None

    def start(self) -> dict[str, Any]:
        """Build and start the run; where it trains (this machine's name and address, the process)."""
        from mnist_core.training.model_pool import ModelPool

        # Its own slot and no pool: this process trains this one run and ends with it.
        placement = {"queue": JobQueue(1), "pool": ModelPool(0)}
        if self._kind == "job":
            from mnist_core.training.job import TrainingJob

            self._run = TrainingJob(data=self._data, **self._options, **placement)
        else:
            from mnist_core.training.race import Race

            self._run = Race(data=self._data, **self._options, **placement)
        self._run.start()
        return where_am_i()

    def control(self, action: str) -> None:
        """Pause, resume or stop the run, as the page asked (any other action is ignored)."""
        if action in CONTROLS:
            getattr(self._run, action)()

    def change(self, settings: TrainSettings):
        """The job's ChangeReport and its settings afterwards."""
        report = self._run.change(settings)
        return report, self._run.settings

    def poll(self, known_version: int, want_trained: bool = True) -> tuple[Any, int, list | None, list | None]:
        """The run's view, its weights version, its weights when newer than `known_version` (else None), and once a
        race has ended, what each contestant trained (Race.trained, with their weights; None if not `want_trained`,
        so that a caller that has them is not sent every contestant's weights again)."""
        view = self._run.view()
        version, weights = self._run.weights()  # a race publishes none: (0, None)
        ended_race = self._kind == "race" and Status(view.status).final
        trained = self._run.trained() if ended_race and want_trained else None
        return view, version, weights if version != known_version else None, trained


def where_am_i() -> dict[str, Any]:
    import ray

    return {
        "hostname": socket.gethostname(),
        "node_ip": ray.util.get_node_ip_address(),
        "node_id": ray.get_runtime_context().get_node_id(),
        "pid": os.getpid(),
    }
