"""Training settings as plain data, with validation that names the offending field."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

# No setting needs more characters than this ("0.000123456789012345678" is 23); longer text is refused unparsed.
MAX_NUMBER_CHARS = 40
MAX_SHOWN_CHARS = 40  # a value quoted in a message is cut to this


class SettingsError(ValueError):
    """One or more settings are invalid; `errors` maps each field to its message."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(errors.values()))


class Applies(StrEnum):
    """When a changed setting reaches a running job: the one rule the sidebar, the job, the engine and the page read."""

    NEXT_BATCH = "next batch"
    NEXT_EPOCH = "next epoch"
    NEW_RUN = "new run"

    @property
    def note(self) -> str:
        """The sentence the sidebar's tooltip ends with."""
        if self is Applies.NEW_RUN:
            return "Changing it needs Reset."
        return f"Changes apply to a running job from the {self.value}."


@dataclass(frozen=True)
class FieldSpec:
    """One numeric setting: its range, when a change reaches a running job, and how the sidebar and a link show it."""

    label: str
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    url: str = ""  # its query-string parameter (ui.query_settings)
    about: str = ""  # what it does, for the sidebar's tooltip
    applies: Applies = Applies.NEW_RUN
    short: str = ""  # the sidebar's label when shorter than `label`
    step: int = 1  # the sidebar's +/- step for whole numbers
    toggle: bool = False  # an on/off setting (0 or 1), drawn as a switch

    @property
    def help(self) -> str:
        """The sidebar's tooltip: what the setting does, then when a change applies."""
        return f"{self.about} {self.applies.note}".strip()

    def describe(self) -> str:
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"{left}{self.low:g}, {self.high:g}{right}"


_BATCH, _EPOCH = Applies.NEXT_BATCH, Applies.NEXT_EPOCH
FIELDS: dict[str, FieldSpec] = {
    "learning_rate": FieldSpec(
        "Learning rate", 0.0, 100.0, low_open=True, url="lr", about="Step size.", applies=_BATCH
    ),
    "momentum": FieldSpec("Momentum", 0.0, 1.0, high_open=True, url="momentum", applies=_BATCH),
    "rho": FieldSpec("Rho", 0.0, 1.0, low_open=True, high_open=True, url="rho"),
    "epsilon": FieldSpec("Epsilon", 0.0, 1.0, low_open=True, url="eps"),
    "beta_1": FieldSpec("Beta 1", 0.0, 1.0, high_open=True, url="beta1"),
    "beta_2": FieldSpec("Beta 2", 0.0, 1.0, low_open=True, high_open=True, url="beta2"),
    "batch_size": FieldSpec(
        "Batch size", 1, 4096, integer=True, url="batch", step=16, about="Examples per update.", applies=_EPOCH
    ),
    "weight_decay": FieldSpec(
        "L2 weight decay",
        0.0,
        1.0,
        url="decay",
        about="L2 penalty on conv and dense weights, ConvNetJS-style (added once per batch).",
        applies=_EPOCH,
    ),
    "epochs": FieldSpec(
        "Epochs", 1, 200, integer=True, url="epochs", about="Passes over the 55,000 training images.", applies=_EPOCH
    ),
    "crops": FieldSpec(
        "Crops per prediction",
        1,
        32,
        integer=True,
        url="k",
        short="Crops (k)",
        about="Random 24x24 crops whose softmax is averaged per prediction.",
        applies=_EPOCH,
    ),
    "seed": FieldSpec(
        "Seed",
        0,
        2**31 - 1,
        integer=True,
        url="seed",
        about="Seeds the initial weights, data order and crops: the same seed gives the same run.",
    ),
    "averaging": FieldSpec(
        "Weight averaging (EMA)",
        0.0,
        1.0,
        high_open=True,
        url="ema",
        about="Momentum of a running average of the weights, written back after each epoch: it settles the "
        "noise of a constant learning rate. 0 turns it off.",
    ),
    "anneal": FieldSpec(
        "Anneal the learning rate (last part of the run)",
        0.0,
        1.0,
        url="anneal",
        short="Anneal (last part)",
        about="Over this last fraction of the run the learning rate falls smoothly to zero, so the weights settle "
        "by themselves: you do not have to lower it by hand. 0 keeps it constant.",
        applies=_EPOCH,
    ),
    "stop_at": FieldSpec(
        "Stop when test accuracy reaches (%)",
        0.0,
        100.0,
        url="stop",
        short="Stop at test accuracy %",
        about="End the run after the first epoch whose 4-crop test accuracy reaches this, so a run spends only "
        "what it needs. 0 trains every epoch.",
        applies=_EPOCH,
    ),
    "own_digits": FieldSpec(
        "Your digits in training",
        0,
        1,
        integer=True,
        toggle=True,
        url="mine",
        about="Mix the digits you saved on the Draw page into every epoch, with the same random crops; one in "
        "five is held out, and the accuracy chart shows how the network reads those.",
    ),
    "class_digits": FieldSpec(
        "Train with the class set",
        0,
        1,
        integer=True,
        toggle=True,
        url="class",
        about="Mix the digits your class shared (the For teachers page shows them) into every epoch, as your "
        "own digits are; one in five is held out, and the accuracy chart shows how the network reads those.",
    ),
}
# The settings that are not numbers: a new optimizer or network always needs a new run.
CHOICES = {"optimizer": "optimizer", "preset": "network"}


@dataclass(frozen=True)
class OptimizerKind:
    label: str
    fields: dict[str, float]  # the settings this optimizer uses, with their defaults


# Adadelta at learning rate 3.0: the paper's and ConvNetJS's 1.0 needs twice the examples to 99% at batch 128
# (docs/performance.md, "The default run"); Keras's own default of 0.001 barely trains.
OPTIMIZERS: dict[str, OptimizerKind] = {
    "adadelta": OptimizerKind("Adadelta", {"learning_rate": 3.0, "rho": 0.95, "epsilon": 1e-6}),
    "sgd": OptimizerKind("SGD", {"learning_rate": 0.01}),
    "momentum": OptimizerKind("SGD + momentum", {"learning_rate": 0.01, "momentum": 0.9}),
    "nesterov": OptimizerKind("Nesterov", {"learning_rate": 0.01, "momentum": 0.9}),
    "adagrad": OptimizerKind("Adagrad", {"learning_rate": 0.01, "epsilon": 1e-7}),
    "rmsprop": OptimizerKind("RMSprop", {"learning_rate": 0.001, "rho": 0.9, "epsilon": 1e-7}),
    "adam": OptimizerKind("Adam", {"learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}),
}

OPTIMIZER_FIELDS = tuple(dict.fromkeys(name for kind in OPTIMIZERS.values() for name in kind.fields))
# The numeric settings of a run beside its optimizer's, in FIELDS order: each is a TrainSettings field.
RUN_FIELDS = tuple(name for name in FIELDS if name not in OPTIMIZER_FIELDS)


def applying(when: Applies) -> tuple[str, ...]:
    """The numeric settings whose changes reach a running job `when`, in FIELDS order."""
    return tuple(name for name, spec in FIELDS.items() if spec.applies is when)


@dataclass(frozen=True)
class OptimizerSettings:
    name: str = "adadelta"
    params: dict[str, float] = field(default_factory=lambda: dict(OPTIMIZERS["adadelta"].fields))

    @property
    def label(self) -> str:
        return OPTIMIZERS[self.name].label


@dataclass(frozen=True)
class TrainSettings:
    optimizer: OptimizerSettings = field(default_factory=OptimizerSettings)
    batch_size: int = 128
    weight_decay: float = 0.001
    epochs: int = 5
    crops: int = 4
    preset: str = "convnetjs"
    seed: int = 0
    # Momentum of an exponential moving average of the weights that replaces them after each epoch; 0 is off.
    # Adadelta at a constant learning rate wanders around the minimum; the average settles it (+0.3 to 0.5 points).
    averaging: float = 0.99
    anneal: float = 0.4  # the last fraction of the run over which the learning rate falls to zero
    stop_at: float = 0.0  # test accuracy (%) that ends the run after its epoch; 0 is off
    own_digits: int = 0  # 1: the session's saved digits are mixed into every epoch
    class_digits: int = 0  # 1: the class set is

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_(self, **changes: Any) -> TrainSettings:
        return replace(self, **changes)


@dataclass(frozen=True)
class SettingsChange:
    """What differs between a run's settings and new ones, grouped by when each difference can reach the run."""

    next_batch: dict[str, Any] = field(default_factory=dict)
    next_epoch: dict[str, Any] = field(default_factory=dict)
    new_run: tuple[str, ...] = ()  # names (`optimizer`, `preset` or a FIELDS name) that only a new run can use

    @property
    def live(self) -> dict[str, Any]:
        """Every change a running job takes, by field name."""
        return {**self.next_batch, **self.next_epoch}

    def without(self, name: str) -> SettingsChange:
        """This change less `name` (a live change the job must not take, e.g. a batch over the memory budget)."""
        batch = {k: v for k, v in self.next_batch.items() if k != name}
        epoch = {k: v for k, v in self.next_epoch.items() if k != name}
        return SettingsChange(batch, epoch, self.new_run)


def settings_change(old: TrainSettings, new: TrainSettings) -> SettingsChange:
    """The differences from `old` to `new`, as FieldSpec.applies groups them (another optimizer: only its name)."""
    new_run = [name for name in CHOICES if _value(old, name) != _value(new, name)]
    groups: dict[Applies, dict[str, Any]] = {when: {} for when in Applies}
    same_optimizer = old.optimizer.name == new.optimizer.name
    for name, spec in FIELDS.items():
        if name in RUN_FIELDS:
            before, after = getattr(old, name), getattr(new, name)
        elif same_optimizer:  # another optimizer's parameters are its own, not changes
            before, after = old.optimizer.params.get(name), new.optimizer.params.get(name)
        else:
            continue
        if after is not None and before != after:
            groups[spec.applies][name] = after
    new_run += list(groups[Applies.NEW_RUN])
    return SettingsChange(groups[Applies.NEXT_BATCH], groups[Applies.NEXT_EPOCH], tuple(new_run))


def with_changes(settings: TrainSettings, changes: Mapping[str, Any]) -> TrainSettings:
    """`settings` with these fields (an optimizer's or the run's own) set to new values."""
    params = {k: changes.get(k, v) for k, v in settings.optimizer.params.items()}
    run = {k: v for k, v in changes.items() if k not in settings.optimizer.params}
    return replace(settings, optimizer=replace(settings.optimizer, params=params), **run)


def _value(settings: TrainSettings, name: str) -> Any:
    return settings.optimizer.name if name == "optimizer" else getattr(settings, name)


def default_optimizer(name: str) -> OptimizerSettings:
    """The named optimizer with its default settings."""
    if not isinstance(name, str) or name not in OPTIMIZERS:
        raise SettingsError({"optimizer": f"Optimizer: unknown {quoted(name)} (choose from {', '.join(OPTIMIZERS)})."})
    return OptimizerSettings(name, dict(OPTIMIZERS[name].fields))


def shown(raw: Any) -> str:
    """A value as a message may quote it: at most MAX_SHOWN_CHARS, and never failing.

    (`str` itself fails on an int of over 4,300 digits, or a list nested thousands deep, and may be huge.)
    """
    if isinstance(raw, int) and not isinstance(raw, bool) and raw.bit_length() > 128:
        digits = int(raw.bit_length() * math.log10(2)) + 1
        return f"a {'negative ' if raw < 0 else ''}number of about {digits:,} digits"
    if isinstance(raw, str):
        text = raw
    else:
        try:
            text = str(raw)
        except Exception:  # noqa: BLE001 - any value's own str may fail; the type is enough to name it
            text = f"a {type(raw).__name__}"
    text = "".join(c if c.isprintable() else "\ufffd" for c in text[: MAX_SHOWN_CHARS + 1])
    return text if len(text) <= MAX_SHOWN_CHARS else text[: MAX_SHOWN_CHARS - 1] + "…"


def quoted(raw: Any) -> str:
    """`shown(raw)` in quotes, for names and text."""
    return f"'{shown(raw)}'"


def _is_number(raw: Any) -> bool:
    # bool is an int to Python but never a setting; bytes, containers and arrays are not numbers either.
    return isinstance(raw, (numbers.Real, Decimal)) and not isinstance(raw, bool)


def parse_field(name: str, raw: Any) -> float | int:
    """Parse one value for field `name` (text or a number); raise SettingsError with a message naming the field."""
    spec = FIELDS[name]
    if isinstance(raw, str) and len(raw.strip()) > MAX_NUMBER_CHARS:
        raise SettingsError({name: f"{spec.label}: a value of {len(raw.strip()):,} characters is too long."})
    if not isinstance(raw, str) and not _is_number(raw):
        raise SettingsError({name: f"{spec.label}: {quoted(raw)} is not a number."})
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except OverflowError:  # an int or fraction beyond the float range
        raise SettingsError({name: f"{spec.label}: {shown(raw)} is out of range {spec.describe()}."}) from None
    except (TypeError, ValueError, ArithmeticError):
        raise SettingsError({name: f"{spec.label}: {quoted(raw)} is not a number."}) from None
    if not math.isfinite(value):
        raise SettingsError({name: f"{spec.label}: must be a finite number, got {shown(raw)}."})
    if spec.integer and value != int(value):
        raise SettingsError({name: f"{spec.label}: must be a whole number, got {shown(raw)}."})
    too_low = value <= spec.low if spec.low_open else value < spec.low
    too_high = value >= spec.high if spec.high_open else value > spec.high
    if too_low or too_high:
        raise SettingsError({name: f"{spec.label}: {shown(raw)} is out of range {spec.describe()}."})
    return int(value) if spec.integer else value


def validate_settings(raw: Mapping[str, Any], presets: Mapping[str, Any]) -> TrainSettings:
    """Build TrainSettings from raw values (strings or numbers); collect every field's error."""
    errors: dict[str, str] = {}
    name = raw.get("optimizer", "adadelta")
    try:
        kind = default_optimizer(name)
    except SettingsError as exc:
        errors.update(exc.errors)
        kind = default_optimizer("adadelta")
    params = {}
    for key, default in kind.params.items():
        params[key] = _collect(errors, key, raw.get(key, default))
    values = {}
    defaults = TrainSettings()
    for key in RUN_FIELDS:
        values[key] = _collect(errors, key, raw.get(key, getattr(defaults, key)))
    preset = raw.get("preset", defaults.preset)
    if not isinstance(preset, str) or preset not in presets:
        errors["preset"] = f"Network: unknown preset {quoted(preset)} (choose from {', '.join(presets)})."
    if errors:
        raise SettingsError(errors)
    return TrainSettings(optimizer=OptimizerSettings(kind.name, params), preset=preset, **values)


def _collect(errors: dict[str, str], key: str, raw: Any) -> float | int:
    try:
        return parse_field(key, raw)
    except SettingsError as exc:
        errors.update(exc.errors)
        return 0
