"""The layer editor's table: rows of plain cells to layer specs and back, with per-row messages."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from mnist_core.architecture import LAYER_FIELDS, ArchitectureError, LayerSpec, row_errors, summarize

# One column per field; "size" is a conv kernel or a pooling window (ConvNetJS's sx).
COLUMNS = ("type", "filters", "units", "size", "stride", "padding", "activation", "rate")
_TO_SPEC = {"size": {"conv": "kernel", "maxpool": "size", "avgpool": "size"}}
_INTEGER = ("filters", "units", "size", "stride")
_TEXT = ("type", "padding", "activation")
KINDS = tuple(LAYER_FIELDS)


def table_rows(layers: Iterable[LayerSpec]) -> list[dict[str, Any]]:
    """Editor rows for a layer list: every column present, unused cells None."""
    rows = []
    for spec in layers:
        row = dict.fromkeys(COLUMNS)
        for key, value in spec.items():
            row["size" if key == "kernel" else key] = value
        rows.append(row)
    return rows


def layers_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[LayerSpec]:
    """Layer specs from editor rows, checked completely; ArchitectureError lists every problem by row."""
    layers, errors = [], []
    for number, row in enumerate(rows, start=1):
        spec, cell_errors = _spec(number, row)
        layers.append(spec)
        errors += cell_errors or row_errors(number, spec)
    if errors:
        raise ArchitectureError(errors)
    summarize(layers)
    return layers


def _spec(number: int, row: Mapping[str, Any]) -> tuple[LayerSpec, list[str]]:
    kind = _text(row.get("type"))
    if kind not in LAYER_FIELDS:
        shown = "empty" if kind is None else f"'{kind}'"
        return {"type": kind}, [f"row {number}: layer type is {shown} (choose from {', '.join(KINDS)})"]
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
        return _text(value), None
    try:
        number = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        return None, f"'{value}' is not a number"
    if not math.isfinite(number):
        return None, f"must be a finite number, got {value}"
    if column in _INTEGER:
        if number != int(number):
            return None, f"must be a whole number, got {value}"
        return int(number), None
    return number, None


def _blank(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _text(value: Any) -> str | None:
    return None if _blank(value) else str(value).strip().lower()
