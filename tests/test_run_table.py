"""The Runs page's CSV download: text a spreadsheet would run as a formula is quoted, on every pandas allowed."""

import csv
import io

import pandas as pd
import pytest

from mnist_core.store.table import table_csv

FORMULAS = ["=1+1", "@SUM(1)", "+1", "-1+2", "\tx", "\rx"]


def _cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


@pytest.mark.parametrize("dtype", [None, object, "string"], ids=["inferred", "object", "string"])
def test_formula_like_names_are_quoted_as_text_whatever_the_text_dtype(dtype):
    """Issue 29: on pandas 3 text columns have the str dtype, and `=1+1` was written unquoted."""
    names = [*FORMULAS, "plain", None]
    frame = pd.DataFrame({"run": range(len(names)), "name": pd.Series(names, dtype=dtype), "acc": 0.5})
    rows = _cells(table_csv(frame))
    assert [row["name"] for row in rows[: len(FORMULAS)]] == ["'" + f for f in FORMULAS]
    assert rows[-2]["name"] == "plain" and rows[-1]["name"] == ""
    assert [row["run"] for row in rows] == [str(i) for i in range(len(names))]  # numbers are left as numbers
    assert {row["acc"] for row in rows} == {"0.5"}


def test_dates_and_numbers_are_not_touched():
    when = pd.Timestamp("2026-12-06 12:00", tz="UTC")
    frame = pd.DataFrame({"when": [when], "loss": [-0.25], "examples": [-3], "board": ["=cmd|' /C calc'!A0"]})
    (row,) = _cells(table_csv(frame))
    assert row["when"].startswith("2026-12-06 12:00") and row["loss"] == "-0.25" and row["examples"] == "-3"
    assert row["board"] == "'=cmd|' /C calc'!A0"
