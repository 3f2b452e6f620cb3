"""The stored runs as tables: the Runs page's, the class board's and their CSV."""

from __future__ import annotations

from typing import Any

import pandas as pd
from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

from mnist_core.model.architecture import PRESET_LABELS
from mnist_core.settings import FIELDS, OPTIMIZERS
from mnist_core.store.rows import RunSummary

RUN_COLUMNS = ["run", "when", "name", "kind", "optimizer", "network", "status", "test accuracy"]
RUN_COLUMNS += ["validation accuracy", "loss", "examples", "epochs", "training s", "examples/s", "board"]
BOARD_COLUMNS = ["nickname", "test accuracy", "optimizer", "learning rate", "batch", "decay", "epochs", "network"]
BOARD_COLUMNS += ["name", "examples", "training s", "status", "shared", "run"]
SORTS = {
    "Newest first": ("when", False),
    "Best test accuracy first": ("test accuracy", False),
    "Lowest loss first": ("loss", True),
    "Fastest first (examples/s)": ("examples/s", False),
}
_CSV_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run a cell starting so as a formula


def optimizer_label(name: str) -> str:
    return OPTIMIZERS[name].label if name in OPTIMIZERS else name


def network_label(name: str, weight_count: int) -> str:
    return PRESET_LABELS.get(name, f"Custom network ({weight_count:,} weights)")


def runs_table(summaries: list[RunSummary]) -> pd.DataFrame:
    rows = [
        {
            "run": s.id,
            "when": s.created_at,
            "name": s.name,
            "kind": "race" if s.kind == "race" else "train",
            "optimizer": optimizer_label(s.optimizer),
            "network": network_label(s.network, s.weight_count),
            "status": s.status,
            "test accuracy": s.test_accuracy,
            "validation accuracy": s.validation_accuracy,
            "loss": s.final_loss,
            "examples": s.examples_seen,
            "epochs": s.epochs,
            "training s": s.train_seconds,
            "examples/s": s.examples_per_second,
            "board": s.nickname if s.shared else "",
        }
        for s in summaries
    ]
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


def sort_table(frame: pd.DataFrame, sort: str) -> pd.DataFrame:
    column, ascending = SORTS.get(sort, SORTS["Newest first"])
    return frame.sort_values([column, "run"], ascending=[ascending, False], na_position="last", kind="stable")


def board_table(summaries: list[RunSummary]) -> pd.DataFrame:
    rows = []
    for s in summaries:
        params = _dict(_dict(s.settings).get("optimizer")).get("params")
        rows.append(
            {
                "nickname": s.nickname or "",
                "test accuracy": s.test_accuracy,
                "optimizer": optimizer_label(s.optimizer),
                "learning rate": _dict(params).get("learning_rate"),
                "batch": _dict(s.settings).get("batch_size"),
                "decay": _dict(s.settings).get("weight_decay"),
                "epochs": s.epochs,
                "network": network_label(s.network, s.weight_count),
                "name": s.name,
                "examples": s.examples_seen,
                "training s": s.train_seconds,
                "status": s.status,
                "shared": s.shared_at,
                "run": s.id,
            }
        )
    return pd.DataFrame(rows, columns=BOARD_COLUMNS)


def settings_rows(settings: dict[str, Any], weight_count: int) -> pd.DataFrame:
    """A run's settings as (setting, value) rows for its detail."""
    optimizer = _dict(settings.get("optimizer"))
    rows = [("optimizer", optimizer_label(str(optimizer.get("name"))))]
    rows += [(FIELDS[k].label if k in FIELDS else str(k), v) for k, v in _dict(optimizer.get("params")).items()]
    rows += [
        (FIELDS[k].label, settings[k]) for k in FIELDS if k in settings and k not in _dict(optimizer.get("params"))
    ]
    rows.append(("network", network_label(str(settings.get("preset")), weight_count)))
    return pd.DataFrame([(name, str(value)) for name, value in rows], columns=["setting", "value"])


def table_csv(frame: pd.DataFrame) -> str:
    """The table as CSV, with text cells that a spreadsheet would read as a formula quoted as text."""
    safe = frame.copy()
    for column in safe.columns:
        # Text has the object dtype on pandas 2 and the str dtype on pandas 3: quote every column that is not numbers.
        if not (is_numeric_dtype(safe[column]) or is_datetime64_any_dtype(safe[column])):
            safe[column] = safe[column].map(_as_text).astype(object)
    # CRLF as RFC 4180 has it; Python's writer then quotes a lone carriage return too, which would split a row.
    return safe.to_csv(index=False, lineterminator="\r\n")


def _as_text(value: Any) -> Any:
    return "'" + value if isinstance(value, str) and value.startswith(_CSV_FORMULA) else value


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}
