"""A damaged or foreign SQLite run store: bad rows skipped and counted, foreign files refused unwritten.

Each file is edited with raw SQL as someone with the file in hand would: values of the wrong type, unknown schema
revisions, objects the store never makes, weights that inflate to a gibibyte, ids beyond SQLite's integer.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import time
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist_core.model.architecture import PRESETS
from mnist_core.settings import TrainSettings
from mnist_core.store import RunStore, StoreError
from mnist_core.store import migrate as migrate_module
from mnist_core.store.config import sqlite_url
from mnist_core.store.rows import StoredRun
from mnist_core.store.schema import RUNS_TABLE, VERSION_TABLE
from mnist_core.store.weights import WeightsError, expected_shapes, pack, read_weights

pytestmark = pytest.mark.timeout(300)
OWNER = "browser:rows"
GOOD = {
    "owner": OWNER,
    "created_at": "2026-11-01 10:00:00.000000",
    "kind": "train",
    "name": "fine",
    "status": "finished",
    "optimizer": "adadelta",
    "network": "convnetjs",
    "settings": json.dumps(TrainSettings().to_dict()),
    "layers": json.dumps(PRESETS["convnetjs"]),
    "curves": json.dumps({"points": {"examples_seen": [0, 100], "loss": [2.3, 1.0]}}),
    "test_accuracy": 0.9,
    "examples_seen": 1000,
    "epochs": 1,
    "train_seconds": 2.0,
    "wall_seconds": 3.0,
    "weight_count": 5994,
    "shared": 1,
    "nickname": "Ada",
    "shared_at": "2026-11-02 10:00:00.000000",
}


def _new_store(path: Path) -> None:
    """A run store at `path` made by the app, left in SQLite's default journal mode so no -wal file lingers."""
    store = RunStore(sqlite_url(path), retry_seconds=0)
    store.count()
    store.dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()


def _insert(path: Path, **changes) -> int:
    row = {**GOOD, **changes}
    with sqlite3.connect(path) as connection:
        cursor = connection.execute(
            f"INSERT INTO {RUNS_TABLE} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", list(row.values())
        )
    connection.close()
    return cursor.lastrowid


def _edit(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as connection:
        for statement in statements:
            connection.execute(statement)
    connection.close()


@pytest.fixture
def path(tmp_path):
    made = tmp_path / "runs.sqlite"
    _new_store(made)
    return made


BAD_VALUES = [
    ("created_at", "yesterday"),
    ("created_at", "2026-13-45 10:00:00"),
    ("created_at", "0001-01-01T00:00:00+05:00"),
    ("created_at", 1_700_000_000),
    ("shared_at", "not a date"),
    ("test_accuracy", "high"),
    ("test_accuracy", 1.5),
    ("validation_accuracy", -0.1),
    ("final_loss", "low"),
    ("examples_seen", -1),
    ("examples_seen", 2.5),
    ("epochs", "three"),
    ("train_seconds", float("inf")),
    ("shared", 2),
    ("name", b"\x00bytes"),
    ("status", b"finished"),  # SQLite turns numbers written to a text column into text; bytes stay bytes
    ("settings", b"{}"),
    ("weight_count", 10.0**30),
]


@pytest.mark.parametrize(("column", "value"), BAD_VALUES, ids=[f"{c}={v!r}"[:40] for c, v in BAD_VALUES])
def test_a_row_with_a_value_of_the_wrong_type_or_range_is_skipped_and_counted(path, column, value, caplog):
    good = _insert(path)
    bad = _insert(path, **{column: value})
    store = RunStore(sqlite_url(path), retry_seconds=0)
    listing, board = store.runs(OWNER), store.board()
    assert [s.id for s in listing] == [good] and listing.unreadable == 1
    assert [s.id for s in board] == [good] and board.unreadable == (1 if column != "shared" else 0)
    assert store.get(bad) is None and store.get(good).summary.name == "fine"
    assert store.count() == 1 and store.count(OWNER) == 1
    assert set(store.curves([good, bad])) == {good, bad}  # a row's curves are read by its id alone
    assert any(f"run {bad}: {column}" in r.getMessage() for r in caplog.records)
    store.dispose()


@pytest.mark.parametrize("given", [10**30, -(10**30), 2**63, -1, 0, True, False, "1", b"1", 1.0, None])
def test_ids_that_are_not_a_run_id_find_nothing_and_never_raise(path, given):
    run = _insert(path)
    assert run == 1
    store = RunStore(sqlite_url(path), retry_seconds=0)
    assert store.get(given) is None
    assert store.delete(given, OWNER) is False
    assert store.share(given, OWNER, "Ada") is False
    assert store.unshare(given, OWNER) is False
    assert store.rename(given, OWNER, "x") is False
    assert store.curves([given]) == {} and store.curves(given) == {}
    assert store.count() == 1 and store.board()[0].nickname == "Ada"
    store.dispose()


FOREIGN = {
    "a view named like the version table": (
        [f"CREATE VIEW {VERSION_TABLE} AS SELECT '0002' AS version_num"],
        r"another application \(objects: view mnist_live_alembic_version\)",
    ),
    "a trigger on the runs table": (
        [f"CREATE TRIGGER wipe AFTER INSERT ON {RUNS_TABLE} BEGIN DELETE FROM {RUNS_TABLE}; END"],
        r"objects that are not the run store's \(trigger wipe\)",
    ),
    "an index the store never makes": (
        [f"CREATE INDEX by_name ON {RUNS_TABLE} (name)"],
        r"objects that are not the run store's \(index by_name\)",
    ),
    "another table beside the store's": (["CREATE TABLE users (name TEXT)"], r"\(table users\)"),
    "a version table without its column": (
        [f"DROP TABLE {VERSION_TABLE}", f"CREATE TABLE {VERSION_TABLE} (revision TEXT)"],
        "without the column version_num",
    ),
    "two revisions, one unknown": (
        [f"INSERT INTO {VERSION_TABLE} VALUES ('9999')"],
        "schema revision '9999', which this version of MNIST Live does not know.*newer version",
    ),
    "two known revisions": ([f"INSERT INTO {VERSION_TABLE} VALUES ('0001')"], "records 2 schema revisions"),
    "no revision": ([f"DELETE FROM {VERSION_TABLE}"], "records no schema revision"),
    "a revision that is not text": (
        [f"UPDATE {VERSION_TABLE} SET version_num = x'0002'"],
        "schema revision bytes b'.x00.x02'.*newer version",
    ),
}


@pytest.mark.parametrize("case", list(FOREIGN))
def test_a_foreign_or_edited_store_is_refused_with_a_message_and_never_written(path, case):
    statements, message = FOREIGN[case]
    if case.startswith("a view"):  # a file whose only object is the view
        path.unlink()
    _edit(path, *statements)
    before = path.read_bytes()
    store = RunStore(sqlite_url(path), retry_seconds=0)
    with pytest.raises(StoreError, match=message):
        store.runs(OWNER)
    assert store.check() is not None
    store.dispose()
    assert path.read_bytes() == before  # the journal mode (WAL is in the header) and every page as they were
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no -wal or -shm made


def _bomb(shapes: list[tuple[int, ...]]) -> bytes:
    """An .npz whose first member has the first shape in its header and 1 GiB of zeros after it (1 MB deflated)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("arr_0.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": shapes[0]})
            zeros = bytes(2**24)
            for _ in range(64):
                member.write(zeros)
        for index, shape in enumerate(shapes[1:], 1):
            array = io.BytesIO()
            np.save(array, np.zeros(shape, np.float32))
            archive.writestr(f"arr_{index}.npy", array.getvalue())
    return buffer.getvalue()


def test_weights_that_inflate_to_a_gibibyte_are_refused_from_their_headers():
    layers = PRESETS["convnetjs"]
    shapes = expected_shapes(layers)
    bomb = _bomb(shapes)
    assert len(bomb) < 2 * 2**20
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(WeightsError, match=r"weight array 1 would unpack to 1,073,741,\d+ bytes"):
        read_weights(bomb, shapes)
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert seconds < 0.5 and peak < 50 * 2**20, (seconds, peak)
    assert [a.shape for a in read_weights(pack([np.ones(s) for s in shapes]), shapes)] == shapes
    with pytest.raises(WeightsError, match=r"weight array 2 of the network has shape \(8,\), the stored one \(3,\)"):
        read_weights(pack([np.zeros(shapes[0]), np.zeros((3,)), *[np.zeros(s) for s in shapes[2:]]]), shapes)


def test_a_stored_run_with_bomb_weights_gives_the_page_a_message(path):
    shapes = expected_shapes(PRESETS["convnetjs"])
    run = _insert(path, weights=_bomb(shapes))
    store = RunStore(sqlite_url(path), retry_seconds=0)
    stored = store.get(run)
    assert isinstance(stored, StoredRun) and stored.summary.has_weights
    with pytest.raises(StoreError, match="do not fit its layers: weight array 1 would unpack to"):
        stored.weights()
    store.dispose()


def test_a_store_in_a_read_only_folder_is_called_read_only_not_damaged(path, monkeypatch):
    _insert(path)
    before = path.read_bytes()
    real = os.access
    monkeypatch.setattr(migrate_module.os, "access", lambda p, mode: False if Path(p) == path.parent else real(p, mode))
    store = RunStore(sqlite_url(path), retry_seconds=0)
    with pytest.raises(StoreError, match=f"The folder {path.parent} of the run store runs.sqlite is read-only"):
        store.runs(OWNER)
    assert "damaged" not in store.check() and path.read_bytes() == before
    store.dispose()


def test_an_immutable_folder_makes_sqlites_open_fail_and_is_still_called_read_only(path):
    """As root, chmod does not stop writes; `chattr +i` does, and SQLite then cannot open a WAL store read-only."""
    _insert(path)
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")  # as the app leaves it: reading it needs a -shm file
    connection.close()
    if subprocess.run(["chattr", "+i", str(path.parent)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        with pytest.raises(sqlite3.OperationalError, match="unable to open database file"):
            sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True).execute("SELECT 1 FROM sqlite_master").fetchall()
        store = RunStore(sqlite_url(path), retry_seconds=0)
        with pytest.raises(StoreError, match="is read-only: SQLite must create its journal files"):
            store.runs(OWNER)
        store.dispose()
    finally:
        subprocess.run(["chattr", "-i", str(path.parent)], check=True)
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
