"""A run's curves as the store keeps them: bounded columns of rounded numbers, and the series charts draw."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from typing import Any

from mnist_core.training.run_state import EpochRecord, ProgressPoint

MAX_CURVE_POINTS = 250  # per curve: the live chart keeps up to 1,000; a stored run needs its shape, not every dip
MAX_EPOCHS = 500
PROGRESS_FIELDS = [f.name for f in fields(ProgressPoint)]
EPOCH_FIELDS = [f.name for f in fields(EpochRecord)]
POINT_FIELDS = ["examples_seen", "train_seconds", "loss", "validation_accuracy", "test_accuracy"]
# Epoch values a record may lack (None): a run without extra digits, or curves stored before the field existed.
OPTIONAL_EPOCH_FIELDS = ("own_accuracy",)


def thin(items: list, limit: int = MAX_CURVE_POINTS) -> list:
    """At most `limit` items spread evenly over `items`, the first and last always among them."""
    if len(items) <= limit:
        return list(items)
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


def _number(value: Any) -> float | int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    value = float(value)
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _columns(rows: list[dict[str, Any]], names: list[str]) -> dict[str, list]:
    return {name: [_number(row.get(name)) for row in rows] for name in names}


def train_curves(progress: tuple[ProgressPoint, ...], history: tuple[EpochRecord, ...]) -> str:
    """A Train page run's curves: its thinned progress and its epoch records."""
    return json.dumps(
        {
            "progress": _columns([asdict(p) for p in thin(list(progress))], PROGRESS_FIELDS),
            "epochs": _columns([asdict(e) for e in thin(list(history), MAX_EPOCHS)], EPOCH_FIELDS),
        },
        separators=(",", ":"),
    )


def race_curves(points: tuple) -> str:
    """A race contestant's curves: its evaluation points (RacePoint)."""
    rows = [asdict(p) for p in thin(list(points))]
    return json.dumps({"points": _columns(rows, POINT_FIELDS)}, separators=(",", ":"))


def _rows(columns: Any, names: list[str], optional: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """Rows from stored columns, as many as the shortest required column; a missing `optional` column is None."""
    if not isinstance(columns, dict):
        return []
    required = [name for name in names if name not in optional]
    lists = {name: columns.get(name) if isinstance(columns.get(name), list) else [] for name in names}
    count = min((len(lists[name]) for name in required), default=0)
    for name in optional:
        lists[name] = (lists[name] + [None] * count)[:count]
    return [dict(zip(names, values)) for values in zip(*(lists[name][:count] for name in names))]


def parse(text: str) -> dict[str, Any]:
    """The stored curves; {} when the text is not what the store writes (edited by hand)."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def series(curves: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """(examples seen, value) pairs per metric: loss, training, validation and test accuracy."""
    out: dict[str, list[tuple[float, float]]] = {"loss": [], "train_accuracy": [], "validation_accuracy": []}
    out["test_accuracy"] = []
    if "points" in curves:
        for row in _rows(curves["points"], POINT_FIELDS):
            for metric in ("loss", "validation_accuracy", "test_accuracy"):
                _add(out[metric], row["examples_seen"], row[metric])
        return out
    for row in _rows(curves.get("progress"), PROGRESS_FIELDS):
        _add(out["loss"], row["examples_seen"], row["loss"])
        _add(out["train_accuracy"], row["examples_seen"], row["train_accuracy"])
    for row in _rows(curves.get("epochs"), EPOCH_FIELDS, OPTIONAL_EPOCH_FIELDS):
        _add(out["validation_accuracy"], row["examples_seen"], row["validation_accuracy"])
        _add(out["test_accuracy"], row["examples_seen"], row["test_accuracy_crops"])
    return out


def _add(target: list, x: Any, y: Any) -> None:
    if isinstance(x, (int, float)) and isinstance(y, (int, float)) and math.isfinite(x) and math.isfinite(y):
        target.append((float(x), float(y)))


def history(curves: dict[str, Any]) -> tuple[list[EpochRecord], list[ProgressPoint]]:
    """A Train page run's epoch records and progress, for continuing it; rows with missing values are dropped."""
    rows = _rows(curves.get("epochs"), EPOCH_FIELDS, OPTIONAL_EPOCH_FIELDS)
    epochs = [EpochRecord(**row) for row in rows if _numeric(row, OPTIONAL_EPOCH_FIELDS)]
    progress = [ProgressPoint(**row) for row in _rows(curves.get("progress"), PROGRESS_FIELDS) if _numeric(row)]
    return epochs, progress


def _numeric(row: dict[str, Any], optional: tuple[str, ...] = ()) -> bool:
    """Every value a finite number, but an `optional` one may be None."""
    return all(
        (v is None and k in optional) or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
        for k, v in row.items()
    )
