"""A fair optimizer race (ConvNetJS's trainer comparison): several optimizers train the same net side by side.

Fairness: every contestant starts from the same initial weights, sees the same examples in the same order
(one permutation per pass from the seed) and, when batch sizes are equal, the same crops (see `Race`).
Only the optimizer, its batch size, its weight decay and its weight averaging differ.
"""

from __future__ import annotations

from collections import Counter

import keras
import numpy as np

from mnist_core.compat.keras_workarounds import seed_states
from mnist_core.data.mnist import Mnist
from mnist_core.model.predict import accuracy
from mnist_core.runtime.queue import JobQueue
from mnist_core.runtime.threads import training_parts
from mnist_core.training.contestants import Contestant, RacePlan
from mnist_core.training.engine import Engine
from mnist_core.training.model_pool import (
    HeldState,
    ModelPool,
    TrainingModel,
    get_pool,
    load_state,
    pool_key,
    reset_optimizer,
    save_state,
    training_model,
)
from mnist_core.training.race_results import (
    TEST_SUBSET,
    ContestantResult,
    RacePoint,
    RaceView,
    TrainedContestant,
    results_of,
)
from mnist_core.training.run import BackgroundRun
from mnist_core.training.run_state import RunState
from mnist_core.training.status import Status


class ContestantRun:
    """One contestant: a run of the training engine with its own state, steered by the race's state."""

    def __init__(self, contestant: Contestant, budget_examples: int):
        self.contestant = contestant
        self.state = RunState(epochs=0, total_examples=budget_examples)
        self.state.set_status(Status.WAITING)
        self.engine: Engine | None = None
        self.saved: HeldState | None = None  # its model's state while another contestant's is in the shared model

    @property
    def examples(self) -> int:
        return self.engine.examples if self.engine is not None else 0

    @property
    def model(self) -> keras.Model:
        """The compiled model it trains, shared with the contestants of the same network and optimizer kind."""
        return self.engine.keras_model

    @property
    def status(self) -> Status:
        return self.state.view().status

    @property
    def active(self) -> bool:
        return not Status(self.status).trained

    def trained(self) -> TrainedContestant:
        return TrainedContestant(self.contestant, self.examples, self.state.weights()[1])


# --- the race ---


class Race(BackgroundRun):
    """Trains every contestant in one daemon thread, in interleaved chunks; never touches streamlit.

    Each contestant is a run of the same engine as a training job, with a compiled model from the model pool.
    Contestants whose models would have the same traced train step (the same `pool_key`: they differ only in
    learning rate, momentum, batch size or weight decay) share one model and take turns on it: before a
    contestant trains or is evaluated, its own state (`HeldState`) is loaded into the model, the previous
    contestant's saved. Each chunk, every running contestant trains until it has seen `eval_every_examples` more
    examples (rounded up to whole batches), then all are evaluated, so the curves grow side by side.

    Crops: each model's crop layer gets the same seed state, so its SeedGenerator draws the same offsets for the
    n-th batch in every model. Contestants with equal batch sizes therefore see identical crops; with different
    batch sizes the examples and their order are still identical but the crops differ (one draw per batch).

    The whole race takes one slot of `queue` (the process-wide job queue by default): its contestants train in
    turn, never at once, so they need no more. `state` is the race's own (status, pause, stop); each contestant
    has its own.
    """

    def __init__(
        self,
        contestants: list[Contestant],
        data: Mnist,
        *plan: object,
        queue: JobQueue | None = None,
        pool: ModelPool | None = None,
        **options: object,
    ):
        """`plan` and `options`: the rest of RacePlan.of's arguments (layers, seed, budget, evaluation, crops)."""
        self.plan = RacePlan.of(contestants, data, *plan, **options)
        self.contestants, self.layers, self.seed = list(self.plan.contestants), self.plan.layers, self.plan.seed
        self.budget_examples, self.crops = self.plan.budget_examples, self.plan.crops
        self.eval_every_examples = self.plan.eval_every_examples
        self.data = data
        self.state = RunState(epochs=0, total_examples=self.budget_examples * len(contestants))
        self.runners = [ContestantRun(c, self.budget_examples) for c in contestants]
        self._pool = pool if pool is not None else get_pool()
        self._models: list[TrainingModel] = []  # one per pool key
        self._occupants: dict[str, ContestantRun] = {}  # pool key -> whose state its model holds
        self._test = data.test.x[:TEST_SUBSET], data.test.y[:TEST_SUBSET]
        super().__init__("mnist-live-race", queue)

    def view(self) -> RaceView:
        """The race's status and every contestant's status and evaluation points."""
        own = self.state.view()
        runs = {r.contestant.name: r.state.view() for r in self.runners}
        return RaceView(
            own.status,
            own.message,
            self.budget_examples,
            own.elapsed_seconds,
            {name: view.status for name, view in runs.items()},
            {name: view.history for name, view in runs.items()},
            own.queue_position,
        )

    def results(self) -> list[ContestantResult]:
        """Each contestant's final numbers, from the recorded evaluation points."""
        return results_of(self.contestants, self.view())

    def trained(self) -> list[TrainedContestant]:
        """What each contestant has trained, with its weights (the run store's records of an ended race)."""
        return [run.trained() for run in self.runners]

    # --- data order, shared by every contestant ---
    def order(self, start: int, end: int) -> np.ndarray:
        """Training-set indices of stream positions start..end-1: pass p is a permutation seeded by (seed, p)."""
        n = len(self.data.train)
        positions = np.arange(start, end)
        out = np.empty(len(positions), dtype=np.int64)
        for p in np.unique(positions // n):
            mask = positions // n == p
            out[mask] = np.random.default_rng([self.seed, int(p)]).permutation(n)[positions[mask] % n]
        return out

    def chunk_end(self, contestant: Contestant, examples: int, target: int) -> int:
        """Where a contestant at `examples` stops for a chunk ending at `target`: whole batches, within budget."""
        batches = -(-(target - examples) // contestant.batch_size)
        return min(self.budget_examples, examples + batches * contestant.batch_size)

    # --- the race thread ---
    def prepare(self) -> None:
        """Give every contestant an engine on a compiled model, all from one set of weights and crop states."""
        if self._models:
            return
        models: dict[str, TrainingModel] = {}
        for run in self.runners:
            settings = run.contestant.settings(self.seed, self.crops)
            key = pool_key(self.layers, settings)
            held = models.get(key)
            if held is None:
                held = models[key] = training_model(self.layers, settings, pool=self._pool)
                self._models.append(held)
            run.engine = Engine(
                held,
                run.state,
                control=self.state,
                params=run.contestant.optimizer.params,
                batch_size=run.contestant.batch_size,
                weight_decay=run.contestant.weight_decay,
                examples_per_epoch=len(self.data.train),
                crops=self.crops,
                seed=self.seed,
                label=run.contestant.optimizer.label,
                live=False,
            )
        reference = self._models[0].model
        weights, seeds = reference.get_weights(), [v.numpy() for v in seed_states(reference)]
        for held in self._models[1:]:
            held.model.set_weights(weights)
            for variable, value in zip(seed_states(held.model), seeds, strict=True):
                variable.assign(value)
        self._save_starts()
        # Traced now, while the page says the networks are being built, not by each contestant's first turn.
        for held in self._models:
            held.model.batch_trainer()

    def _save_starts(self) -> None:
        """Each contestant's starting state where it shares its model: its own optimizer settings and decay."""
        sharing = Counter(run.engine.held.key for run in self.runners)
        for run in self.runners:
            held = run.engine.held
            if sharing[held.key] == 1:
                self._occupants[held.key] = run  # its state stays in its model for the whole race
                continue
            reset_optimizer(held, run.contestant.settings(self.seed, self.crops))
            run.engine.set_decay(run.contestant.weight_decay, run.contestant.batch_size)
            run.saved = save_state(held)
            if any(other.engine.held is held for other in self.runners[: self.runners.index(run)]):
                # The first contestant on the model runs its step first: the clock's trace accounting is its own.
                run.saved.traced_batches = 2

    def _take_turn(self, run: ContestantRun) -> None:
        """Load this contestant's state into its model, saving the state of the contestant that was in it."""
        key = run.engine.held.key
        occupant = self._occupants.get(key)
        if occupant is run:
            return
        if occupant is not None:
            occupant.saved = save_state(occupant.engine.held)
        load_state(run.engine.held, run.saved)
        run.saved, self._occupants[key] = None, run

    def _stopped_in_queue(self) -> None:
        for run in self.runners:
            run.state.set_status(Status.STOPPED)
        super()._stopped_in_queue()

    def _run(self) -> None:
        state = self.state
        try:
            state.set_status(Status.STARTING, "Building the networks")
            self.prepare()
            self._record_start()
            state.set_status(Status.RUNNING, "Racing")
            target = 0
            while target < self.budget_examples and not state.stop_requested:
                target = min(target + self.eval_every_examples, self.budget_examples)
                self._chunk(target)
            self._finish()
        except Exception as exc:  # noqa: BLE001 - the page shows it; the thread must not die silently
            state.set_status(Status.ERROR, f"Race failed: {type(exc).__name__}: {exc}")
            self._models.clear()  # whatever failed may have left a model unusable: none goes back to the pool
        finally:
            for held in self._models:
                self._pool.give_back(held)

    def _record_start(self) -> None:
        # All contestants share the initial weights: one evaluation serves for all.
        validation, test = self._evaluate(self.runners[0])
        for run in self.runners:
            self._take_turn(run)
            run.engine.publish()
            run.state.set_status(Status.RUNNING)
            run.state.add_epoch(RacePoint(0, 0.0, None, validation, test, Status.RUNNING))

    def _chunk(self, target: int) -> None:
        trained = []
        for run in self.runners:
            if not run.active or self.state.wait_while_paused():
                continue
            end = self.chunk_end(run.contestant, run.examples, target)
            if end <= run.examples:
                continue
            index = self.order(run.examples, end)
            self._take_turn(run)
            run.engine.fit(self.data.train.x[index], self.data.train.y[index])
            trained.append(run)
        for run in trained:
            if run.active and run.examples >= self.budget_examples:
                run.state.set_status(Status.FINISHED)
            self._record(run)

    def _record(self, run: ContestantRun) -> None:
        validation, test = self._evaluate(run)
        engine = run.engine
        loss = engine.last_loss if engine.diverged else engine.smoothed_loss()
        point = RacePoint(engine.examples, engine.train_seconds, loss, validation, test, run.status)
        run.state.add_epoch(point)

    def _evaluate(self, run: ContestantRun) -> tuple[float, float]:
        self._take_turn(run)
        predictor, workers = run.engine.predictor, training_parts()
        val = predictor.predict_center(self.data.validation.x, workers)
        test_x, test_y = self._test
        # The same crop offsets for every contestant and evaluation point.
        test = predictor.predict(test_x, self.crops, seed=self.seed, workers=workers).probabilities
        return accuracy(val, self.data.validation.y), accuracy(test, test_y)

    def _finish(self) -> None:
        stopped = self.state.stop_requested
        for run in self.runners:
            if run.active:
                run.state.set_status(Status.STOPPED if stopped else Status.FINISHED)
        diverged = [r.contestant.name for r in self.runners if r.status is Status.DIVERGED]
        note = f"; diverged: {', '.join(diverged)}" if diverged else ""
        ended = Status.STOPPED if stopped else Status.FINISHED
        self.state.set_status(ended, f"{ended.label}{note}")
