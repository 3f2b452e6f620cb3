"""Fuzz the run store's reads: `python -m tools.fuzz_store --examples N` prints one JSON object.

Each input is a few rows written straight into an SQLite run store with raw SQL, as someone editing the file
would: any value in any column (a valid one, or the wrong type, ints beyond 64 bits, NaN and inf, bytes, bad
date strings, nested JSON). The property: the listing, the class board, `get`, `curves` and `count` (and the
tables and charts the Runs page draws from them) give valid runs and skip each other row with a count, never
raise, within CPU_SECONDS of CPU and PEAK_MB of traced allocations per input.
"""

from __future__ import annotations

import json
import math
import sqlite3
import tempfile
import time
from contextlib import contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st

from mnist_core.charts.runs import overlay_frame
from mnist_core.settings import TrainSettings
from mnist_core.store import RunStore, RunSummary, StoreError
from mnist_core.store.config import sqlite_url
from mnist_core.store.curves import series
from mnist_core.store.rows import MAX_ID
from mnist_core.store.schema import RUNS_TABLE, runs
from mnist_core.store.table import board_table, runs_table
from tools.fuzzing import fuzz_arguments, long_run, within_bounds

CPU_SECONDS = 2.0  # per input: a few rows are read in milliseconds
PEAK_MB = 32  # traced allocations per input
OWNER = "browser:fuzz"
MAX_ROWS = 4

# --- values a hand-edited file may hold ---

_GOOD = {
    "owner": st.just(OWNER),
    "created_at": st.just("2026-11-01 10:00:00.000000"),
    "kind": st.sampled_from(["train", "race"]),
    "name": st.text(max_size=20),
    "status": st.sampled_from(["finished", "stopped", "diverged"]),
    "optimizer": st.sampled_from(["sgd", "adam", "adadelta"]),
    "network": st.sampled_from(["convnetjs", "custom"]),
    "settings": st.just(json.dumps(TrainSettings().to_dict())),
    "layers": st.just("[]"),
    "curves": st.just(json.dumps({"points": {"examples_seen": [0, 100], "loss": [2.3, 1.0]}})),
    "test_accuracy": st.floats(0, 1),
    "validation_accuracy": st.one_of(st.none(), st.floats(0, 1)),
    "final_loss": st.floats(0, 10),
    "examples_seen": st.integers(0, 10**6),
    "epochs": st.integers(0, 50),
    "train_seconds": st.floats(0, 100),
    "wall_seconds": st.floats(0, 100),
    "examples_per_second": st.one_of(st.none(), st.floats(0, 10**5)),
    "weight_count": st.integers(0, 10**6),
    "weights": st.one_of(st.none(), st.binary(max_size=30)),
    "weights_note": st.one_of(st.none(), st.text(max_size=20)),
    "shared": st.booleans(),
    "nickname": st.one_of(st.none(), st.text(max_size=20)),
    "shared_at": st.one_of(st.none(), st.just("2026-11-02 10:00:00")),
}
BAD_DATES = st.sampled_from(
    [
        "yesterday",
        "",
        "2026-13-45 10:00:00",
        "2026-11-01 25:61:00",
        "0001-01-01 00:00:00",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31 23:59:59.999999-14:00",
        "1999-12-31 23:59:59",
        "2262-04-12 00:00:00",
        "2026-11-01T10:00:00Z",
        "2026-11-01",
        "1e10",
        "2026-11-01 10:00:00 and more",
        "\x00",
    ]  # fmt: skip
)
_JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=20,
)
HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**63), 2**63 - 1),
    st.builds(lambda n, sign: sign * 10**n, st.integers(19, 400), st.sampled_from([1, -1])),
    st.floats(),
    st.sampled_from([math.nan, math.inf, -math.inf, -0.0, 1e308, 5e-324]),
    st.text(max_size=40),
    st.binary(max_size=40),
    BAD_DATES,
    st.datetimes().map(str),
    _JSON,
)
COLUMNS = [c.name for c in runs.columns if c.name != "id"]
# A valid row with up to four values (an explicit id among them) replaced by hostile ones, as an edit would.
_ROW = st.builds(
    lambda good, edits: {**good, **edits},
    st.fixed_dictionaries({name: _GOOD[name] for name in COLUMNS}),
    st.dictionaries(st.sampled_from([*COLUMNS, "id"]), HOSTILE, max_size=4),
)
ROWS = st.lists(_ROW, min_size=1, max_size=MAX_ROWS)


def sql_value(value: Any) -> Any:
    """`value` as sqlite3 binds it: JSON for lists and dicts, a float or text for ints beyond 64 bits."""
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**63:
        try:
            return float(value)
        except OverflowError:
            return str(value)
    return value


def write_rows(path: Path, rows: list[dict[str, Any]]) -> int:
    """Replace the store's rows with `rows` by raw SQL; how many went in (SQLite refuses NULL in NOT NULL columns)."""
    written = 0
    with sqlite3.connect(path) as connection:
        connection.execute(f"DELETE FROM {RUNS_TABLE}")
        for row in rows:
            names = list(row)
            try:
                connection.execute(
                    f"INSERT INTO {RUNS_TABLE} ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                    [sql_value(row[name]) for name in names],
                )
                written += 1
            except (sqlite3.IntegrityError, sqlite3.InterfaceError, sqlite3.ProgrammingError, OverflowError):
                pass  # a value SQLite itself refuses never reaches a file
    connection.close()
    return written


@contextmanager
def fuzz_store():
    """A fresh SQLite run store and its path; the store is opened (and so created) once."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "runs.sqlite"
        store = RunStore(sqlite_url(path), retry_seconds=0)
        try:
            store.count()
            yield store, path
        finally:
            store.dispose()


# --- the property ---


def _valid(summary: RunSummary) -> None:
    assert isinstance(summary, RunSummary)
    assert isinstance(summary.id, int) and 1 <= summary.id <= MAX_ID
    for name in ("examples_seen", "epochs", "weight_count"):
        value = getattr(summary, name)
        assert type(value) is int and 0 <= value <= MAX_ID, (name, value)
    for name in ("owner", "kind", "name", "status", "optimizer", "network"):
        assert isinstance(getattr(summary, name), str), name
    for name in ("test_accuracy", "validation_accuracy"):
        value = getattr(summary, name)
        assert value is None or (type(value) is float and 0 <= value <= 1), (name, value)
    for name in ("train_seconds", "wall_seconds", "examples_per_second"):
        value = getattr(summary, name)
        assert value is None or (type(value) is float and math.isfinite(value) and value >= 0), (name, value)
    assert summary.final_loss is None or (type(summary.final_loss) is float and not math.isnan(summary.final_loss))
    assert isinstance(summary.settings, dict)
    for name in ("created_at", "shared_at"):
        value = getattr(summary, name)
        assert (name == "shared_at" and value is None) or (isinstance(value, datetime) and value.tzinfo == UTC)
    assert type(summary.shared) is bool and type(summary.has_weights) is bool


def check_rows(store: RunStore, path: Path, rows: list[dict[str, Any]]) -> None:
    """Write `rows`, then read them as the pages do: valid runs, and the rest counted, never an exception."""
    write_rows(path, rows)
    with sqlite3.connect(path) as connection:
        ids = [row[0] for row in connection.execute(f"SELECT id FROM {RUNS_TABLE} WHERE owner = ?", (OWNER,))]
        shared = connection.execute(f"SELECT count(*) FROM {RUNS_TABLE} WHERE shared IS 1").fetchone()[0]
        every = connection.execute(f"SELECT count(*) FROM {RUNS_TABLE}").fetchone()[0]
    connection.close()
    listing = store.runs(OWNER)
    assert len(listing) + listing.unreadable == len(ids), (len(listing), listing.unreadable, ids)
    board = store.board()
    assert len(board) + board.unreadable == shared, (len(board), board.unreadable, shared)
    for summary in [*listing, *board]:
        _valid(summary)
    assert 0 <= store.count() <= every and store.count(OWNER) == len(listing)
    listed = {s.id for s in listing}
    for run_id in ids:
        stored = store.get(run_id)
        assert (stored is not None) == (run_id in listed), run_id
        if stored is not None:
            _valid(stored.summary)
            series(stored.curves)
            for use in (stored.layers, stored.summary.train_settings):
                with suppress(StoreError):
                    use()
    curves = store.curves(ids)
    assert set(curves) <= set(ids) and all(isinstance(c, dict) for c in curves.values())
    overlay_frame({str(i): c for i, c in curves.items()})
    runs_table(listing)
    board_table(board)


def outcome(store: RunStore, path: Path, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """None when `rows` meet the property, else what went wrong."""
    return within_bounds(lambda: check_rows(store, path, rows), CPU_SECONDS, PEAK_MB)[1]


def _shown(value: Any) -> str:
    try:
        return repr(value)[:400]
    except ValueError:  # an int too long for repr
        return f"<{type(value).__name__}>"


def fuzz(examples: int, seed: int | None = None) -> dict[str, Any]:
    """Try `examples` inputs; every failure, not only the first."""
    start = time.monotonic()
    tried, failures = 0, []
    with fuzz_store() as (store, path):

        @long_run(examples, seed)
        @given(ROWS)
        def attempt(rows: list[dict[str, Any]]) -> None:
            nonlocal tried
            tried += 1
            found = outcome(store, path, rows)
            if found is not None:
                failures.append({"input": _shown(rows), **found})

        (fixed_seed(seed)(attempt) if seed is not None else attempt)()
    return {
        "tried": {"rows": tried},
        "failures": failures,
        "failure_count": len(failures),
        "seconds": round(time.monotonic() - start, 1),
    }


def main(argv: list[str] | None = None) -> None:
    parser = fuzz_arguments(__doc__.splitlines()[0], "inputs")
    args = parser.parse_args(argv)
    print(json.dumps(fuzz(args.examples, args.seed), indent=1))


if __name__ == "__main__":
    main()
