"""A fair optimizer race (ConvNetJS's trainer comparison): several optimizers train the same net side by side.

Fairness: every contestant starts from the same initial weights, sees the same examples in the same order
(one permutation per pass from the seed) and, when batch sizes are equal, the same crops (see `Race`).
Only the optimizer, its batch size and its weight decay differ.

`python -m mnist_core.race` runs the seven default contestants for one epoch and prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from mnist_core.architecture import PRESETS, LayerSpec
from mnist_core.background import BackgroundWork
from mnist_core.budget import STEP_MEMORY_BUDGET_BYTES, check_step_memory, model_memory_bytes, step_memory_bytes
from mnist_core.data import Mnist
from mnist_core.engine import DIVERGED_LOSS, Engine
from mnist_core.live_state import LiveState
from mnist_core.predict import accuracy
from mnist_core.settings import (
    OPTIMIZERS,
    OptimizerSettings,
    SettingsError,
    TrainSettings,
    default_optimizer,
    parse_field,
    quoted,
)
from mnist_core.slots import JobSlots
from mnist_core.training_models import ModelPool, TrainingModel, get_pool, training_model

EVAL_EVERY = 5_000
TEST_SUBSET = 2_000  # test accuracy uses the first 2,000 test images (k crops each) to keep evaluation cheap
TARGETS = (0.97, 0.98)
DEFAULT_BATCH = 128
DEFAULT_DECAY = 0.001
DEFAULT_LINEUP = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adadelta")
COLUMNS = ("name", "optimizer", "learning_rate", "momentum", "rho", "beta_1", "beta_2", "epsilon")
COLUMNS += ("batch_size", "weight_decay", "averaging")
# Every contestant's model stays in memory for the whole race, and the contestants train in turn in one slot.
MAX_CONTESTANTS = 12
TOO_MANY_ROWS = f"a race takes at most {MAX_CONTESTANTS} contestants: only the first {MAX_CONTESTANTS} rows race."
MAX_NAME_CHARS = 40
# A race may hold as much memory as one training step may (mnist_core.budget): models plus one step at a time.
RACE_MEMORY_BUDGET_BYTES = STEP_MEMORY_BUDGET_BYTES

CONTESTANT_FINAL = ("finished", "stopped", "diverged")


@dataclass(frozen=True)
class Contestant:
    name: str
    optimizer: OptimizerSettings
    batch_size: int = DEFAULT_BATCH
    weight_decay: float = DEFAULT_DECAY
    averaging: float = 0.0  # a weight average (EMA) written back at the end of every chunk; 0 is off

    @property
    def learning_rate(self) -> float:
        return self.optimizer.params["learning_rate"]


@dataclass(frozen=True)
class RacePoint:
    """One contestant at one evaluation point."""

    examples_seen: int
    train_seconds: float
    loss: float | None  # cross-entropy over the last LOSS_WINDOW batches, without the L2 term
    validation_accuracy: float  # full validation set, centre crop
    test_accuracy: float  # first TEST_SUBSET test images, k crops
    status: str


@dataclass(frozen=True)
class ContestantResult:
    name: str
    optimizer: str
    learning_rate: float
    batch_size: int
    final_loss: float | None
    validation_accuracy: float | None
    test_accuracy: float | None
    examples_to_97: int | None
    examples_to_98: int | None
    train_seconds: float
    status: str
    diverged_at: int | None  # examples seen when the loss blew up


# --- validation of the editable table ---


def validate_contestants(
    rows: list[Mapping[str, Any]], layers: list[LayerSpec] | None = None
) -> tuple[list[Contestant], dict[int, str]]:
    """Contestants from table rows, and each invalid row's index with a message naming the field.

    Only the first MAX_CONTESTANTS rows are read; later rows are flagged (they do not race). With `layers`, a row
    whose training step alone would exceed the memory budget is flagged too.
    """
    contestants: list[Contestant] = []
    errors: dict[int, str] = {}
    seen: set[str] = set()
    for index, row in enumerate(rows):
        if index >= MAX_CONTESTANTS:
            errors[index] = TOO_MANY_ROWS
            continue
        try:
            contestant = _contestant(row)
        except SettingsError as exc:
            errors[index] = "; ".join(exc.errors.values())
            continue
        if contestant.name in seen:
            errors[index] = f"Name: '{contestant.name}' is used by another row; names must be unique."
            continue
        step = check_step_memory(layers, contestant.batch_size) if layers is not None else None
        if step:
            errors[index] = step
            continue
        seen.add(contestant.name)
        contestants.append(contestant)
    return contestants, errors


def race_memory_bytes(contestants: list[Contestant], layers: list[LayerSpec]) -> int:
    """Estimated peak bytes of a race: every contestant's model, plus one training step (they train in turn)."""
    step = max((step_memory_bytes(layers, c.batch_size) for c in contestants), default=0)
    return len(contestants) * model_memory_bytes(layers) + step


def check_race(contestants: list[Contestant], layers: list[LayerSpec]) -> str | None:
    """Why these contestants may not race on `layers` (too many, or over the memory budget), else None."""
    if len(contestants) > MAX_CONTESTANTS:
        return f"A race takes at most {MAX_CONTESTANTS} contestants, not {len(contestants):,}."
    need = race_memory_bytes(contestants, layers)
    if need <= RACE_MEMORY_BUDGET_BYTES:
        return None
    models = len(contestants) * model_memory_bytes(layers)
    return (
        f"This race needs about {need / 2**20:,.0f} MB: {len(contestants)} contestants' models on this network "
        f"({models / 2**20:,.0f} MB) and one training step at the largest batch size "
        f"({(need - models) / 2**20:,.0f} MB); the limit on this server is {RACE_MEMORY_BUDGET_BYTES / 2**20:,.0f} "
        "MB. Race fewer contestants, smaller batch sizes or a smaller network."
    )


def _contestant(row: Mapping[str, Any]) -> Contestant:
    if not isinstance(row, Mapping):
        raise SettingsError({"row": f"{quoted(row)} is not a table row."})
    name = _name(row.get("name"))
    problems: dict[str, str] = {} if name else {"name": "Name: every contestant needs a name."}
    kind = row.get("optimizer")
    kind = kind.strip().lower() if isinstance(kind, str) else kind
    if not isinstance(kind, str) or kind not in OPTIMIZERS:
        problems["optimizer"] = (
            f"Optimizer: unknown {quoted(row.get('optimizer'))} (choose from {', '.join(OPTIMIZERS)})."
        )
        raise SettingsError(problems)
    values = {}
    for key in (*OPTIMIZERS[kind].fields, "batch_size", "weight_decay"):
        try:
            values[key] = parse_field(key, row.get(key))
        except SettingsError as exc:
            problems.update(exc.errors)
    try:  # a blank cell is no average, as in the default line-up
        averaging = 0.0 if _missing(row.get("averaging")) else parse_field("averaging", row.get("averaging"))
    except SettingsError as exc:
        problems.update(exc.errors)
    if problems:
        raise SettingsError(problems)
    batch_size, weight_decay = values.pop("batch_size"), values.pop("weight_decay")
    return Contestant(name, OptimizerSettings(kind, values), batch_size, weight_decay, averaging)


def _name(value: Any) -> str:
    """A name cell as text ("" when empty); a name of another type or too long is refused."""
    if _missing(value):
        return ""
    if not isinstance(value, str):
        raise SettingsError({"name": f"Name: must be text, got {quoted(value)}."})
    name = value.strip()
    if len(name) > MAX_NAME_CHARS:
        raise SettingsError({"name": f"Name: {len(name):,} characters is too long (at most {MAX_NAME_CHARS})."})
    return name


def _missing(value: Any) -> bool:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return True
    return isinstance(value, str) and value.strip() == ""


def default_contestants() -> list[Contestant]:
    """ConvNetJS's line-up with each optimizer's defaults, all at batch 128 and weight decay 0.001."""
    return [Contestant(OPTIMIZERS[key].label, default_optimizer(key)) for key in DEFAULT_LINEUP]


def contestant_rows(contestants: list[Contestant]) -> list[dict[str, Any]]:
    """Table rows (the inverse of validate_contestants); fields an optimizer does not use are None."""
    rows = []
    for c in contestants:
        row: dict[str, Any] = dict.fromkeys(COLUMNS)
        row.update(c.optimizer.params, name=c.name, optimizer=c.optimizer.name)
        row.update(batch_size=c.batch_size, weight_decay=c.weight_decay, averaging=c.averaging)
        rows.append(row)
    return rows


# --- the view of a race: its own state and every contestant's ---


@dataclass(frozen=True)
class RaceSnapshot:
    status: str
    message: str
    budget_examples: int
    elapsed_seconds: float
    statuses: dict[str, str]
    points: dict[str, tuple[RacePoint, ...]]
    queue_position: int = 0  # n > 0: n-th in line for a training slot (status "queued"); 0: holding one


class ContestantRun:
    """One contestant: a run of the training engine with its own state, steered by the race's state."""

    def __init__(self, contestant: Contestant, budget_examples: int):
        self.contestant = contestant
        self.state = LiveState(epochs=0, total_examples=budget_examples)
        self.state.set_status("waiting")
        self.engine: Engine | None = None

    @property
    def examples(self) -> int:
        return self.engine.examples if self.engine is not None else 0

    @property
    def model(self) -> keras.Model:
        return self.engine.keras_model

    @property
    def status(self) -> str:
        return self.state.snapshot().status

    @property
    def active(self) -> bool:
        return self.status not in CONTESTANT_FINAL

    def settings(self, seed: int, crops: int) -> TrainSettings:
        """The contestant as a job's settings: what the model pool and the engine are given."""
        c = self.contestant
        return TrainSettings(c.optimizer, c.batch_size, c.weight_decay, crops=crops, seed=seed, averaging=c.averaging)


# --- the race ---


class Race(BackgroundWork):
    """Trains every contestant in one daemon thread, in interleaved chunks; never touches streamlit.

    Each contestant is a run of the same engine as a training job, with a compiled model from the model pool.
    Each chunk, every running contestant trains until it has seen `eval_every_examples` more examples
    (rounded up to whole batches), then all are evaluated, so the curves grow side by side.

    Crops: each model's crop layer gets the same seed state, so its SeedGenerator draws the same offsets for the
    n-th batch in every model. Contestants with equal batch sizes therefore see identical crops; with different
    batch sizes the examples and their order are still identical but the crops differ (one draw per batch).

    The whole race takes one of `slots` (the process-wide ones by default): its contestants train in turn, never
    at once, so they need no more. `state` is the race's own (status, pause, stop); each contestant has its own.
    """

    def __init__(
        self,
        contestants: list[Contestant],
        data: Mnist,
        layers: list[LayerSpec] | None = None,
        seed: int = 0,
        budget_examples: int | None = None,
        eval_every_examples: int = EVAL_EVERY,
        crops: int = 4,
        *,
        slots: JobSlots | None = None,
        pool: ModelPool | None = None,
    ):
        names = [c.name for c in contestants]
        if not contestants or len(set(names)) != len(names):
            raise ValueError("a race needs at least one contestant and unique names")
        self.layers = layers if layers is not None else PRESETS["convnetjs"]
        problem = check_race(contestants, self.layers)  # before anything is built
        if problem:
            raise ValueError(problem)
        self.contestants = list(contestants)
        self.data = data
        self.seed = seed
        self.budget_examples = budget_examples if budget_examples is not None else len(data.train)
        self.eval_every_examples = eval_every_examples
        self.crops = crops
        self.state = LiveState(epochs=0, total_examples=self.budget_examples * len(contestants))
        self.runners = [ContestantRun(c, self.budget_examples) for c in contestants]
        self._pool = pool if pool is not None else get_pool()
        self._models: list[TrainingModel] = []
        self._test = data.test.x[:TEST_SUBSET], data.test.y[:TEST_SUBSET]
        super().__init__("mnist-live-race", slots)

    def view(self) -> RaceSnapshot:
        """The race's status and every contestant's status and evaluation points."""
        own = self.state.snapshot()
        runs = {r.contestant.name: r.state.snapshot() for r in self.runners}
        return RaceSnapshot(
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
        snap = self.view()
        return [_result(c, snap.points[c.name], snap.statuses[c.name]) for c in self.contestants]

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
        """Give every contestant a compiled model and an engine, all from one set of weights and crop states."""
        if self._models:
            return
        for run in self.runners:
            held = training_model(self.layers, run.settings(self.seed, self.crops), pool=self._pool)
            self._models.append(held)
            run.engine = Engine(
                held,
                run.state,
                control=self.state,
                batch_size=run.contestant.batch_size,
                weight_decay=run.contestant.weight_decay,
                examples_per_epoch=len(self.data.train),
                crops=self.crops,
                seed=self.seed,
                label=run.contestant.optimizer.label,
            )
        reference = self._models[0].model
        weights, seeds = reference.get_weights(), [v.numpy() for v in _seed_states(reference)]
        for held in self._models[1:]:
            held.model.set_weights(weights)
            for variable, value in zip(_seed_states(held.model), seeds, strict=True):
                variable.assign(value)

    def _stopped_in_queue(self) -> None:
        for run in self.runners:
            run.state.set_status("stopped")
        super()._stopped_in_queue()

    def _run(self) -> None:
        state = self.state
        try:
            state.set_status("starting", "Building the networks")
            self.prepare()
            self._record_start()
            state.set_status("running", "Racing")
            target = 0
            while target < self.budget_examples and not state.stop_requested:
                target = min(target + self.eval_every_examples, self.budget_examples)
                self._chunk(target)
            self._finish()
        except Exception as exc:  # noqa: BLE001 - the page shows it; the thread must not die silently
            state.set_status("error", f"Race failed: {type(exc).__name__}: {exc}")
            self._models.clear()  # whatever failed may have left a model unusable: none goes back to the pool
        finally:
            for held in self._models:
                self._pool.give_back(held)

    def _record_start(self) -> None:
        # All contestants share the initial weights: one evaluation serves for all.
        validation, test = self._evaluate(self.runners[0])
        for run in self.runners:
            run.engine.publish()
            run.state.set_status("running")
            run.state.add_epoch(RacePoint(0, 0.0, None, validation, test, "running"))

    def _chunk(self, target: int) -> None:
        trained = []
        for run in self.runners:
            if not run.active or self.state.wait_while_paused():
                continue
            end = self.chunk_end(run.contestant, run.examples, target)
            if end <= run.examples:
                continue
            index = self.order(run.examples, end)
            run.engine.fit(self.data.train.x[index], self.data.train.y[index])
            trained.append(run)
        for run in trained:
            if run.active and run.examples >= self.budget_examples:
                run.state.set_status("finished")
            self._record(run)

    def _record(self, run: ContestantRun) -> None:
        validation, test = self._evaluate(run)
        engine = run.engine
        loss = engine.last_loss if engine.diverged else engine.smoothed_loss()
        point = RacePoint(engine.examples, engine.train_seconds, loss, validation, test, run.status)
        run.state.add_epoch(point)

    def _evaluate(self, run: ContestantRun) -> tuple[float, float]:
        predictor = run.engine.predictor
        val = predictor.predict_center(self.data.validation.x)
        test_x, test_y = self._test
        # The same crop offsets for every contestant and evaluation point.
        test = predictor.predict(test_x, self.crops, seed=self.seed).probabilities
        return accuracy(val, self.data.validation.y), accuracy(test, test_y)

    def _finish(self) -> None:
        stopped = self.state.stop_requested
        for run in self.runners:
            if run.active:
                run.state.set_status("stopped" if stopped else "finished")
        diverged = [r.contestant.name for r in self.runners if r.status == "diverged"]
        note = f"; diverged: {', '.join(diverged)}" if diverged else ""
        self.state.set_status("stopped" if stopped else "finished", f"{'Stopped' if stopped else 'Finished'}{note}")


def _seed_states(model: keras.Model) -> list:
    return [v for v in model.variables if "seed_generator_state" in v.path]


# --- results ---


def _result(contestant: Contestant, points: tuple[RacePoint, ...], status: str) -> ContestantResult:
    last = points[-1] if points else None
    diverged = status == "diverged"
    return ContestantResult(
        name=contestant.name,
        optimizer=contestant.optimizer.label,
        learning_rate=contestant.learning_rate,
        batch_size=contestant.batch_size,
        final_loss=last.loss if last else None,
        validation_accuracy=last.validation_accuracy if last else None,
        test_accuracy=last.test_accuracy if last else None,
        examples_to_97=_examples_to(points, TARGETS[0]),
        examples_to_98=_examples_to(points, TARGETS[1]),
        train_seconds=last.train_seconds if last else 0.0,
        status=status,
        diverged_at=last.examples_seen if diverged and last else None,
    )


def _examples_to(points: tuple[RacePoint, ...], target: float) -> int | None:
    """Examples seen at the first evaluation point with validation accuracy >= target."""
    return next((p.examples_seen for p in points if p.validation_accuracy >= target), None)


def summary_text(results: list[ContestantResult]) -> str:
    """A short reading of the race, generated from the numbers."""
    if not results:
        return "No contestants."
    sentences = [_first_to(results, target) for target in reversed(TARGETS)]
    sentences = [s for s in sentences if s][:1] or [
        f"No contestant reached {TARGETS[0]:.0%} validation accuracy within the budget."
    ]
    scored = [r for r in results if r.test_accuracy is not None and r.status != "diverged"]
    if scored:
        best = max(scored, key=lambda r: r.test_accuracy)
        worst = min(scored, key=lambda r: r.test_accuracy)
        sentences.append(
            f"Best final test accuracy: {best.name}, {best.test_accuracy:.2%} (first {TEST_SUBSET:,} test images)."
        )
        if worst is not best:
            sentences.append(f"Lowest: {worst.name}, {worst.test_accuracy:.2%}.")
        quickest = min(scored, key=lambda r: r.train_seconds)
        sentences.append(f"Least training time: {quickest.name}, {quickest.train_seconds:.1f} s.")
    for r in results:
        if r.status == "diverged":
            sentences.append(
                f"{r.name} diverged after {r.diverged_at:,} examples at learning rate {r.learning_rate:g}: "
                f"its loss left the finite range or passed {DIVERGED_LOSS:.1f}."
            )
    stopped = [r.name for r in results if r.status == "stopped"]
    if stopped:
        sentences.append(f"Stopped before the end of the budget: {', '.join(stopped)}.")
    return " ".join(sentences)


def _first_to(results: list[ContestantResult], target: float) -> str | None:
    key = "examples_to_98" if target == TARGETS[1] else "examples_to_97"
    reached = sorted((getattr(r, key), r.name) for r in results if getattr(r, key) is not None)
    if not reached:
        return None
    examples, name = reached[0]
    others = len(reached) - 1
    tail = f"; {others} other{'s' if others != 1 else ''} got there too" if others else "; no other did"
    return f"{name} reached {target:.0%} validation accuracy first, after {examples:,} examples{tail}."


# --- command line: the default race ---


def main(argv: list[str] | None = None) -> dict:
    """Run the default race headless and print one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m mnist_core.race", description=__doc__)
    parser.add_argument("--preset", default="convnetjs", choices=list(PRESETS))
    parser.add_argument("--budget", type=int, default=None, help="examples per contestant (default one epoch)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    from mnist_core.data import load_mnist

    race = Race(default_contestants(), load_mnist(), PRESETS[args.preset], args.seed, args.budget)
    started = time.perf_counter()
    race.start()
    race.join()
    seconds = time.perf_counter() - started
    snap = race.view()
    if snap.status != "finished":
        raise SystemExit(f"race ended with status {snap.status}: {snap.message}")
    results = race.results()
    report = {
        "race_seconds": round(seconds, 1),
        "preset": args.preset,
        "budget_examples": race.budget_examples,
        "contestants": [_json_result(r) for r in results],
        "summary": summary_text(results),
    }
    print(json.dumps(report, indent=2))
    return report


def _json_result(result: ContestantResult) -> dict:
    out = {k: v for k, v in vars(result).items() if k not in ("optimizer",)}
    for key in ("final_loss", "validation_accuracy", "test_accuracy", "train_seconds"):
        value = out[key]
        out[key] = round(value, 4) if value is not None and math.isfinite(value) else None
    return out


if __name__ == "__main__":
    main()
