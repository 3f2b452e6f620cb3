"""The layer editor's table: rows of plain cells to layer specs and back, with per-row messages."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from mnist_core.model.architecture import (
    LAYER_FIELDS,
    MAX_LAYERS,
    ArchitectureError,
    LayerSpec,
    row_errors,
    shown,
    summarize,
)

# One column per field; "size" is a conv kernel or a pooling window (ConvNetJS's sx).
COLUMNS = ("type", "filters", "units", "size", "stride", "padding", "activation", "rate")
_TO_SPEC = {"size": {"conv": "kernel", "maxpool": "size", "avgpool": "size"}}
_INTEGER = ("filters", "units", "size", "stride")
_TEXT = ("type", "padding", "activation")
KINDS = tuple(LAYER_FIELDS)


def table_rows(layers: Iterable[LayerSpec]) -> list[dict[str, Any]]:
    """Editor rows for a layer list: every column present, unused cells None, each cell of its column's type."""
    rows = []
    for spec in layers:
        row = dict.fromkeys(COLUMNS)
        for key, value in spec.items():
            column = "size" if key == "kernel" else key
            if column in row and _fits(column, value):  # the editor's typed columns raise on anything else
                row[column] = value
        rows.append(row)
    return rows


def _fits(column: str, value: Any) -> bool:
    if column in _TEXT:
        return isinstance(value, str)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def layers_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[LayerSpec]:
    """Layer specs from editor rows, checked completely; ArchitectureError lists every problem by row."""
    rows = list(rows)
    if len(rows) > MAX_LAYERS:  # before reading them: the count alone refuses the table
        raise ArchitectureError([f"The network has {len(rows)} layers; the limit is {MAX_LAYERS}."])
    layers, errors = [], []
    for number, row in enumerate(rows, start=1):
        spec, cell_errors = _spec(number, row if isinstance(row, Mapping) else {})
        layers.append(spec)
        errors += cell_errors or row_errors(number, spec)
    if errors:
        raise ArchitectureError(errors)
    summarize(layers)
    return layers


def _spec(number: int, row: Mapping[str, Any]) -> tuple[LayerSpec, list[str]]:
    kind = _text(row.get("type"))
    if kind not in LAYER_FIELDS:
        named = "empty" if _blank(row.get("type")) else shown(kind or row.get("type"))
        return {"type": kind}, [f"row {number}: layer type is {named} (choose from {', '.join(KINDS)})"]
    spec: LayerSpec = {"type": kind}
    errors = []
    for column in COLUMNS[1:]:
        key = _TO_SPEC.get(column, {}).get(kind, column)
        if key not in LAYER_FIELDS[kind]:
            continue
        value, error = _cell(row.get(column), column)
        if error:
            errors.append(f"row {number}: {kind} {column} {error}")
        spec[key] = value
    return spec, errors


def _cell(value: Any, column: str) -> tuple[Any, str | None]:
    if _blank(value):
        return None, "is empty"
    if column in _TEXT:
        text = _text(value)
        return (text, None) if text is not None else (None, f"must be a name, got {shown(value)}")
    if isinstance(value, (bool, np.bool_)):
        return None, f"must be a number, got {value}"
    try:
        number = float(value.strip()) if isinstance(value, str) else float(value)
    except OverflowError:  # an int beyond a float's range
        return None, f"{shown(value)} is out of range"
    except (TypeError, ValueError):
        return None, f"{shown(value)} is not a number"
    if math.isinf(number) and not _says_infinity(value):
        return None, f"{shown(value)} is out of range"  # text such as 1e400, beyond a float's range
    if not math.isfinite(number):
        return None, f"must be a finite number, got {shown(value)}"
    if column in _INTEGER:
        if number != int(number):
            return None, f"must be a whole number, got {shown(value)}"
        return int(number), None
    return number, None


def _says_infinity(value: Any) -> bool:
    return not isinstance(value, str) or value.strip().lstrip("+-").lower() in ("inf", "infinity")


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str | None:
    """A name cell's text, lowercase; None when blank or not text (numbers and containers name nothing)."""
    return value.strip().lower() if isinstance(value, str) and value.strip() else None
