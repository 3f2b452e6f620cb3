"""The Compare page's contestants: who races, from the editable table's rows, checked before a race is built."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mnist_core.data.mnist import Mnist
from mnist_core.model.architecture import PRESETS, LayerSpec
from mnist_core.model.budget import STEP_MEMORY_BUDGET_BYTES, check_step_memory, model_memory_bytes, step_memory_bytes
from mnist_core.settings import (
    OPTIMIZERS,
    OptimizerSettings,
    SettingsError,
    TrainSettings,
    default_optimizer,
    parse_field,
    quoted,
)

DEFAULT_BATCH = 128
DEFAULT_DECAY = 0.001
DEFAULT_LINEUP = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adadelta")
COLUMNS = ("name", "optimizer", "learning_rate", "momentum", "rho", "beta_1", "beta_2", "epsilon")
COLUMNS += ("batch_size", "weight_decay", "averaging")
# Every contestant's model stays in memory for the whole race, and the contestants train in turn in one slot.
MAX_CONTESTANTS = 12
EVAL_EVERY = 5_000  # examples each contestant trains between two evaluations of all, by default
TOO_MANY_ROWS = f"a race takes at most {MAX_CONTESTANTS} contestants: only the first {MAX_CONTESTANTS} rows race."
MAX_NAME_CHARS = 40
# A race may hold as much memory as one training step may (mnist_core.model.budget): models plus one step at a time.
RACE_MEMORY_BUDGET_BYTES = STEP_MEMORY_BUDGET_BYTES


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

    def settings(self, seed: int, crops: int) -> TrainSettings:
        """The contestant as a job's settings: what the model pool and the engine are given, and the run store keeps."""
        return TrainSettings(
            self.optimizer, self.batch_size, self.weight_decay, crops=crops, seed=seed, averaging=self.averaging
        )


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


@dataclass(frozen=True)
class RacePlan:
    """What a race trains, wherever it trains: its contestants, the network, the seed, each contestant's budget of
    examples, how often all are evaluated, and the crops per prediction."""

    contestants: tuple[Contestant, ...]
    layers: list[LayerSpec]
    seed: int
    budget_examples: int
    eval_every_examples: int
    crops: int

    @classmethod
    def of(
        cls,
        contestants: list[Contestant],
        data: Mnist,
        layers: list[LayerSpec] | None = None,
        seed: int = 0,
        budget_examples: int | None = None,
        eval_every_examples: int = EVAL_EVERY,
        crops: int = 4,
    ) -> RacePlan:
        """The plan, checked before anything is built (ValueError naming the problem); defaults: the ConvNetJS net,
        one pass over the training set each."""
        names = [c.name for c in contestants]
        if not contestants or len(set(names)) != len(names):
            raise ValueError("a race needs at least one contestant and unique names")
        layers = layers if layers is not None else PRESETS["convnetjs"]
        problem = check_race(list(contestants), layers)
        if problem:
            raise ValueError(problem)
        budget = budget_examples if budget_examples is not None else len(data.train)
        return cls(tuple(contestants), layers, seed, budget, eval_every_examples, crops)

    def options(self) -> dict[str, Any]:
        """The plan as Race's keyword arguments (for a race built in another process)."""
        return {
            "contestants": list(self.contestants),
            "layers": self.layers,
            "seed": self.seed,
            "budget_examples": self.budget_examples,
            "eval_every_examples": self.eval_every_examples,
            "crops": self.crops,
        }
