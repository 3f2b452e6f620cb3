"""The web process's side of a cluster run: a proxy with the interface of BackgroundRun, TrainingJob and Race.

The run itself trains in a Ray actor (mnist_core.cluster.host) with the same engine. The proxy forwards pause,
resume, stop and setting changes to it, and a thread of its own polls the actor's view and published weights
into a RemoteState, which the page reads as it reads a RunState. The actor is killed once its run has ended
(and after a stop, at the latest STOP_GRACE_SECONDS later), so no actor outlives the run that needed it.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
from dataclasses import replace
from typing import Any

import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayError, RayTaskError

from mnist_core.cluster.connection import Cluster, Placement
from mnist_core.data.mnist import Mnist
from mnist_core.data.own_digits import ExtraDigits
from mnist_core.model.architecture import PRESETS, LayerSpec
from mnist_core.settings import TrainSettings
from mnist_core.training.contestants import Contestant, RacePlan
from mnist_core.training.handle import RunHandle
from mnist_core.training.race_results import ContestantResult, RaceView, TrainedContestant, results_of
from mnist_core.training.run_state import RunState, RunView
from mnist_core.training.status import Status

POLL_SECONDS = 0.5  # how often the page's copy is refreshed (the page itself redraws once a second)
CALL_SECONDS = 10.0  # an actor that does not answer a call for this long is asked again
SILENT_SECONDS = 60.0  # ... and one silent for this long is reported lost
STOP_GRACE_SECONDS = 30.0  # a stopped run ends within a batch and its last evaluation; past this it is killed
LOST = "The machine training your run stopped ({why}). Its last published weights and metrics are kept"
QUEUE_STOP = "Stopped before it started: it was waiting for a worker on the cluster."


class RemoteState:
    """The last view and weights polled from a cluster run's actor, under one lock (what RunState is in-process)."""

    def __init__(self, view):
        self._lock = threading.Lock()
        self._view = view
        self._seq = -1  # the newest poll applied: a slower, older answer never overwrites a newer one
        self._version, self._weights = 0, None
        self._started = time.monotonic()
        self._polled = False

    def apply(self, seq: int, view, version: int, weights: list | None) -> None:
        with self._lock:
            if seq < self._seq:
                return
            self._seq, self._view, self._polled = seq, view, True
            if weights is not None:
                self._version, self._weights = version, weights

    def update(self, **fields: Any) -> None:
        """Set fields of the view here (waiting in line, stopped before it started, lost)."""
        with self._lock:
            self._view = replace(self._view, **fields)

    @property
    def version(self) -> int:
        with self._lock:
            return self._version

    def weights(self) -> tuple[int, list | None]:
        with self._lock:
            return self._version, self._weights

    def view(self):
        with self._lock:
            if not self._polled and not self._view.final:  # waiting for a worker: its seconds in line
                self._view = replace(self._view, elapsed_seconds=time.monotonic() - self._started)
            return self._view


class RemoteRun(RunHandle):
    """start, pause, resume, stop, view, weights, join and alive of a run that trains in a Ray actor.

    The RunHandle's thread polls the actor; the run's end listeners (on_end) are called once it has ended.
    """

    kind = ""
    queue = None  # Ray schedules cluster runs: the server's JobQueue is not used
    notice = ""

    def __init__(self, cluster: Cluster, data: Mnist, options: dict[str, Any], view):
        self._cluster, self.data, self._options = cluster, data, options
        self.state = RemoteState(view)
        self.lost = False  # the machine training it stopped
        self.placement: Placement | None = None
        self._host = None
        self._placed: ray.ObjectRef | None = None
        self._seq = itertools.count()
        self._stop = threading.Event()
        self._trained: list[TrainedContestant] | None = None  # a race's, from the actor's poll once it has ended
        super().__init__("mnist-live-cluster-run")

    # --- the interface ---
    def start(self) -> None:
        if self._host is not None:
            raise RuntimeError("background work can only be started once")
        data = self._cluster.data_ref(self.data)
        self._host = self._cluster.host_class.remote(self.kind, data, self._options)
        self._placed = self._host.start.remote()
        self._cluster.wait_in_line(self)
        self.state.update(queue_position=self._cluster.position(self))
        self._thread.start()

    def pause(self) -> None:
        self._command("control", "pause")

    def resume(self) -> None:
        self._command("control", "resume")

    def stop(self) -> None:
        self._stop.set()
        self._command("control", "stop")

    @property
    def where(self) -> str:
        cluster = f"on the Ray cluster at {self._cluster.address}"
        n = self._cluster.config.cpus
        cpus = f"{n} CPU{'' if n == 1 else 's'}"
        if self.placement is None:
            return f"{cluster}: waiting for a worker with {cpus} free"
        p = self.placement
        return f"{cluster}: machine {p.hostname} ({p.node_ip}), worker process {p.pid}, {cpus}"

    # --- talking to the actor ---
    def _command(self, method: str, *args) -> Any:
        """Call the actor and refresh the page's copy; None when it is not placed yet or does not answer."""
        if self.placement is None or self.lost:
            return None
        try:
            result = ray.get(getattr(self._host, method).remote(*args), timeout=CALL_SECONDS)
            self._poll()
        except RayError:
            return None  # the polling thread reports a lost actor
        return result

    def _poll(self) -> bool:
        """Copy the actor's view (and newer weights) here; True when the run has ended."""
        seq = next(self._seq)
        asked = self._host.poll.remote(self.state.version, want_trained=self._trained is None)
        view, version, weights, trained = ray.get(asked, timeout=CALL_SECONDS)
        self.state.apply(seq, view, version, weights)
        if trained is not None:
            self._trained = trained
        return Status(view.status).final

    # --- the polling thread ---
    def _main(self) -> None:
        try:
            if self._wait_for_worker():
                self._placed_now()
                self._follow()
        except Exception as exc:  # noqa: BLE001 - the page shows it; the thread must not die silently
            self._lose(f"{type(exc).__name__}: {exc}")
        finally:
            self._cluster.leave_line(self)
            self._kill()
            self._ended()

    def _wait_for_worker(self) -> bool:
        """Wait until Ray has placed the actor and it has started the run; False if it never will."""
        while not self._stop.is_set():
            ready, _ = ray.wait([self._placed], timeout=0.25)
            if ready:
                break
            self.state.update(queue_position=self._cluster.position(self))
        else:
            self.state.update(status=Status.STOPPED, message=QUEUE_STOP, queue_position=0)
            return False
        self._cluster.leave_line(self)
        try:
            self.placement = Placement(**ray.get(self._placed))
        except RayTaskError as exc:
            cause = exc.cause if exc.cause is not None else exc
            self.state.update(status=Status.ERROR, message=f"Starting the run failed: {type(cause).__name__}: {cause}")
            return False
        except RayActorError as exc:
            self._lose(_why(exc))
            return False
        self.state.update(queue_position=0)
        return True

    def _placed_now(self) -> None:
        """Hook: what a run does once it trains (a job forwards the changes made while it waited)."""

    def _follow(self) -> None:
        silent_since = stop_since = None
        while True:
            try:
                if self._poll():
                    return
                silent_since = None
            except GetTimeoutError:
                silent_since = silent_since or time.monotonic()
                if time.monotonic() - silent_since > SILENT_SECONDS:
                    self._lose("it stopped answering")
                    return
                continue
            except RayActorError as exc:
                self._lose(_why(exc))
                return
            if self._stop.is_set():
                if stop_since is None:  # again: a stop pressed while the run was being placed was not sent
                    self._host.control.remote("stop")
                stop_since = stop_since or time.monotonic()
                if time.monotonic() - stop_since > STOP_GRACE_SECONDS:
                    self.state.update(status=Status.STOPPED, message="Stopped.")
                    return
            time.sleep(POLL_SECONDS)

    def _lose(self, why: str) -> None:
        self.lost = True
        self.state.update(status=Status.ERROR, message=self._lost_message(why), queue_position=0)

    def _lost_message(self, why: str) -> str:
        return LOST.format(why=why) + "."

    def _kill(self) -> None:
        if self._host is not None:
            with contextlib.suppress(Exception):  # already gone (or the cluster is): nothing is left to end
                ray.kill(self._host, no_restart=True)


def _why(exc: RayActorError) -> str:
    text = str(exc).lower()
    if "node" in text and ("died" in text or "dead" in text):
        return "its machine left the cluster"
    return "its worker process ended unexpectedly"


class RemoteJob(RemoteRun):
    """A TrainingJob on the cluster: settings, layers, change, model and state as TrainingJob has them."""

    kind = "job"

    def __init__(
        self,
        cluster: Cluster,
        settings: TrainSettings,
        data: Mnist,
        layers: list[LayerSpec] | None = None,
        *,
        initial_weights: list | None = None,
        history: RunView | None = None,
        extra: ExtraDigits | None = None,
    ):
        from mnist_core.training.counts import StartPoint

        self.settings = settings
        self.layers = layers if layers is not None else PRESETS[settings.preset]
        epoch_size = len(data.train) + (extra.per_epoch(len(data.train)) if extra is not None else 0)
        waiting = RunState(**StartPoint.of(history).totals(settings.epochs, epoch_size), past=history)
        waiting.set_queue_position(1)
        options = {"settings": settings, "layers": self.layers, "initial_weights": initial_weights, "history": history}
        options["extra"] = extra
        super().__init__(cluster, data, options, waiting.view())
        self._waiting_change: TrainSettings | None = None
        self._model = None

    def change(self, new: TrainSettings):
        """TrainingJob.change, on the actor; changes made while the run waits for a worker go once it starts."""
        from mnist_core.training.job import ChangeReport

        if new == self.settings:
            return ChangeReport()
        if self.placement is None:
            self._waiting_change = new
            return ChangeReport()
        answer = self._command("change", new)
        if answer is None:
            return ChangeReport()
        report, self.settings = answer
        return report

    def _placed_now(self) -> None:
        if self._waiting_change is not None:
            self.change(self._waiting_change)

    def _lost_message(self, why: str) -> str:
        return LOST.format(why=why) + ": press **Continue training** to go on from them."

    @property
    def model(self):
        """A Keras model with the last published weights (None before any)."""
        from mnist_core.model.architecture import build_model

        version, weights = self.state.weights()
        if weights is None:
            return None
        if self._model is None or self._model[0] != version:
            model = build_model(self.layers, self.settings.seed)
            model.set_weights(weights)
            self._model = (version, model)
        return self._model[1]

    def continuation(self) -> dict[str, Any]:
        """What a new job needs to go on from where this one stopped (as a snapshot's Continue training)."""
        weights, view = self.state.weights()[1], self.state.view()
        return {"settings": self.settings, "initial_weights": weights, "history": view, "extra": self._options["extra"]}


class RemoteRace(RemoteRun):
    """A Race on the cluster: view and results as Race has them."""

    kind = "race"

    def __init__(self, cluster: Cluster, contestants: list[Contestant], data: Mnist, *plan: object, **options: object):
        """`plan` and `options` as Race takes them (RacePlan.of's arguments)."""
        race = RacePlan.of(contestants, data, *plan, **options)
        self.contestants, self.layers, self.seed = list(race.contestants), race.layers, race.seed
        self.crops, self.budget_examples = race.crops, race.budget_examples
        names = [c.name for c in race.contestants]
        waiting = RaceView(Status.QUEUED, "", self.budget_examples, 0.0, dict.fromkeys(names, Status.WAITING),
                           {n: () for n in names}, 1)  # fmt: skip
        super().__init__(cluster, data, race.options(), waiting)

    def results(self) -> list[ContestantResult]:
        return results_of(self.contestants, self.view())

    def trained(self) -> list[TrainedContestant]:
        """Race.trained as the actor gave it when the race ended; nothing trained here if it never got that far."""
        if self._trained is not None:
            return self._trained
        return [TrainedContestant(c, 0, None) for c in self.contestants]

    def _lost_message(self, why: str) -> str:
        return LOST.format(why=why) + ": start the race again to run it anew."
