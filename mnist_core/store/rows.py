"""A stored row as the pages get it: every value checked, a row that does not fit skipped and counted, never raised.

A run store is a file anyone can edit: SQLite keeps whatever type a value was written with, so a date may be any
text and an accuracy a word. Columns are read as the driver returns them (SQLAlchemy's own conversions raise on
a bad date) and checked here; `RunSummary` and `StoredRun` only ever hold values that passed.
"""

from __future__ import annotations

import json
import logging
import math
import numbers
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import type_coerce
from sqlalchemy.types import NullType

from mnist_core.model.architecture import PRESETS, ArchitectureError, LayerSpec, validate_layers
from mnist_core.settings import RUN_FIELDS, SettingsError, TrainSettings, validate_settings
from mnist_core.store.curves import parse
from mnist_core.store.weights import WeightsError, unpack

LOG = logging.getLogger(__name__)
MAX_ID = 2**63 - 1  # SQLite's and PostgreSQL's largest integer
# Pandas, which the tables use, holds dates from 1677 to 2262; a run is stored when it ends, so after 2000.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2262, 1, 1, tzinfo=UTC)
_IDS = ("id",)
_COUNTS = ("examples_seen", "epochs", "weight_count")
_TEXT = ("owner", "kind", "name", "status", "optimizer", "network", "settings")
_OPTIONAL_TEXT = ("weights_note", "nickname")
_FRACTIONS = ("test_accuracy", "validation_accuracy")
_SECONDS = ("train_seconds", "wall_seconds")
_FLAGS = ("shared", "has_weights")


class StoreError(RuntimeError):
    """The store cannot do what was asked; the message says why, for the page."""


class BadValue(ValueError):
    """A stored value is not of its column's type or range; the message names the column."""


class Listing(list):
    """Runs read from the store, with how many stored rows were skipped because a value in them is not valid."""

    unreadable: int = 0


def run_id(value: Any) -> int | None:
    """`value` as a run id (a positive integer the database can hold), or None: ids come from the browser."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return None
    value = int(value)
    return value if 1 <= value <= MAX_ID else None


def raw(columns: list) -> list:
    """`columns` read as the driver returns them, without SQLAlchemy's conversions (which raise on bad values)."""
    return [type_coerce(column, NullType()).label(column.name) for column in columns]


@dataclass(frozen=True)
class RunSummary:
    """A run as the tables show it (no curves, layers or weights)."""

    id: int
    owner: str
    created_at: datetime
    kind: str
    name: str
    status: str
    optimizer: str
    network: str
    settings: dict[str, Any]
    test_accuracy: float | None
    validation_accuracy: float | None
    final_loss: float | None
    examples_seen: int
    epochs: int
    train_seconds: float
    wall_seconds: float
    examples_per_second: float | None
    weight_count: int
    has_weights: bool
    weights_note: str | None
    shared: bool
    nickname: str | None
    shared_at: datetime | None

    def train_settings(self, layers: list[LayerSpec] | None = None) -> TrainSettings:
        """The run's settings, checked as the sidebar checks them; StoreError when they were edited into nonsense."""
        raw_settings = self.settings if isinstance(self.settings, dict) else {}
        optimizer = raw_settings.get("optimizer") if isinstance(raw_settings.get("optimizer"), dict) else {}
        params = optimizer.get("params") if isinstance(optimizer.get("params"), dict) else {}
        values = {"optimizer": optimizer.get("name"), **params, "preset": raw_settings.get("preset")}
        values.update({name: raw_settings[name] for name in RUN_FIELDS if name in raw_settings})
        choices = {**PRESETS, "custom": layers or []}
        try:
            return validate_settings(values, choices)
        except SettingsError as exc:
            raise StoreError(f"Run {self.id}'s stored settings are not valid: {exc}") from None


@dataclass(frozen=True)
class StoredRun:
    """A run with everything: its layers, curves and packed weights."""

    summary: RunSummary
    layers_json: str
    curves_json: str
    weights_data: bytes | None

    @property
    def curves(self) -> dict[str, Any]:
        return parse(self.curves_json)

    def layers(self) -> list[LayerSpec]:
        """The run's layers, checked as the layer editor checks them; StoreError if they are not a network."""
        try:
            layers = json.loads(self.layers_json)
            validate_layers(layers)
        except (ValueError, TypeError, RecursionError, ArchitectureError) as exc:
            message = f"Run {self.summary.id}'s stored layers are not a network this app builds: {exc}"
            raise StoreError(message) from None
        return layers

    def weights(self) -> list:
        """The run's weights, refused with StoreError when missing or when they do not fit its layers."""
        if self.weights_data is None:
            note = self.summary.weights_note or "none were saved"
            raise StoreError(f"Run {self.summary.id} has no weights to load ({note}).")
        layers = self.layers()
        try:
            return unpack(self.weights_data, layers, self.summary.train_settings(layers).seed)
        except WeightsError as exc:
            raise StoreError(f"Run {self.summary.id}'s weights do not fit its layers: {exc} Not loaded.") from None


def summary(row: Any) -> RunSummary | None:
    """The row as a RunSummary, or None (logged) when a value in it is not of its column's type or range."""
    try:
        return _summary(row._mapping)
    except BadValue as exc:
        LOG.warning("A stored run is skipped: %s", exc)
        return None


def stored(row: Any) -> StoredRun | None:
    """The row with its layers, curves and weights, or None (logged) when a value in it is not valid."""
    found = summary(row)
    if found is None:
        return None
    values = row._mapping
    # Text or weights of the wrong type are refused when used (StoreError), so the run can still be listed.
    layers = values["layers"] if isinstance(values["layers"], str) else ""
    curves = values["curves"] if isinstance(values["curves"], str) else ""
    weights = values["weights"]
    if weights is not None:
        weights = bytes(weights) if isinstance(weights, (bytes, bytearray, memoryview)) else b""
    return StoredRun(found, layers, curves, weights)


def curves_of(row: Any) -> tuple[int, dict[str, Any]] | None:
    """(id, curves) of a row read for an overlay, or None when its id is not valid."""
    values = row._mapping
    found = run_id(values["id"])
    if found is None:
        LOG.warning("A stored run is skipped: its id %s is not a positive integer.", shown_value(values["id"]))
        return None
    return found, parse(values["curves"]) if isinstance(values["curves"], str) else {}


def _summary(values: Any) -> RunSummary:
    checked: dict[str, Any] = {}
    for name in _IDS:
        checked[name] = _integer(values, name, 1)
    for name in _COUNTS:
        checked[name] = _integer(values, name, 0)
    for name in _TEXT:
        checked[name] = _text(values, name)
    for name in _OPTIONAL_TEXT:
        checked[name] = None if values[name] is None else _text(values, name)
    for name in _FRACTIONS:
        checked[name] = _number(values, name, 0.0, 1.0, optional=True)
    for name in _SECONDS:
        checked[name] = _number(values, name, 0.0, math.inf)
    checked["examples_per_second"] = _number(values, "examples_per_second", 0.0, math.inf, optional=True)
    checked["final_loss"] = _loss(values)
    for name in _FLAGS:
        checked[name] = _flag(values, name)
    checked["created_at"] = _date(values, "created_at")
    checked["shared_at"] = None if values["shared_at"] is None else _date(values, "shared_at")
    try:
        settings = json.loads(checked["settings"])
    except (ValueError, RecursionError):
        settings = {}
    checked["settings"] = settings if isinstance(settings, dict) else {}
    return RunSummary(**checked)


def _integer(values: Any, name: str, least: int) -> int:
    value = values[name]
    if isinstance(value, bool) or not isinstance(value, int) or not least <= value <= MAX_ID:
        raise BadValue(f"run {_row(values)}: {name} is {shown_value(value)}, not an integer from {least} to {MAX_ID}.")
    return value


def _number(values: Any, name: str, low: float, high: float, optional: bool = False) -> float | None:
    value = values[name]
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise BadValue(f"run {_row(values)}: {name} is {shown_value(value)}, not a number from {low:g} to {high:g}.")
    if not math.isfinite(value):
        raise BadValue(f"run {_row(values)}: {name} is {shown_value(value)}, not a finite number.")
    return float(value)


def _loss(values: Any) -> float | None:
    value = values["final_loss"]
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise BadValue(f"run {_row(values)}: final_loss is {shown_value(value)}, not a number.")
    return float(value)  # a diverged run's loss may be infinite


def _text(values: Any, name: str) -> str:
    value = values[name]
    if not isinstance(value, str):
        raise BadValue(f"run {_row(values)}: {name} is {shown_value(value)}, not text.")
    return value


def _flag(values: Any, name: str) -> bool:
    value = values[name]
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):  # SQLite keeps booleans as 0 and 1
        return bool(value)
    raise BadValue(f"run {_row(values)}: {name} is {shown_value(value)}, not true or false.")


def stored_date(value: Any) -> datetime | None:
    """A date as a store gives it back, in UTC, if it is one from 2000 to 2261 (SQLite keeps text and no zone)."""
    when = value
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(when, datetime):
        return None
    try:
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except (OverflowError, ValueError):
        return None
    return when if EARLIEST <= when < LATEST else None


def _date(values: Any, name: str) -> datetime:
    value = values[name]
    when = stored_date(value)
    if when is None:
        raise BadValue(f"run {_row(values)}: {name} is {shown_value(value)}, not a date and time from 2000 to 2261.")
    return when


def _row(values: Any) -> str:
    found = run_id(values["id"])
    return str(found) if found is not None else shown_value(values["id"])


def shown_value(value: Any) -> str:
    """A stored value for a log line: its type and its first characters."""
    try:
        text = repr(value)
    except ValueError:  # an int too long for repr
        text = "a very long integer"
    return f"{type(value).__name__} {text[:40]}{'…' if len(text) > 40 else ''}"
