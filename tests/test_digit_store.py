"""Saved digits on real databases: SQLite in a temporary file and PostgreSQL started by the tests, same tests."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

import numpy as np
import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text, update

from mnist_core.data.own_digits import DigitError
from mnist_core.settings import TrainSettings
from mnist_core.store import Limits, RunStore, StoreError
from mnist_core.store.config import sqlite_url
from mnist_core.store.migrate import _config, known_revisions
from mnist_core.store.schema import DIGITS_TABLE, NICKNAME_CHARS, RUNS_TABLE, VERSION_TABLE, digits

pytestmark = pytest.mark.timeout(300)


def digit(seed: int) -> np.ndarray:
    """A different non-blank 28x28 image for each seed."""
    image = np.zeros((28, 28), np.uint8)
    rng = np.random.default_rng(seed)
    image[4:24, 8:20] = rng.integers(1, 256, (20, 12), dtype=np.uint8)
    return image


def test_save_list_by_owner_and_label_newest_first(store):
    first = store.digits.save("browser:a", digit(1), 3)
    second = store.digits.save("browser:a", digit(2), 7, "uploaded")
    store.digits.save("browser:b", digit(3), 3)
    mine = store.digits.digits("browser:a")
    assert [d.id for d in mine] == [second, first] and mine.unreadable == 0
    assert [(d.label, d.source, d.shared) for d in mine] == [(7, "uploaded", False), (3, "drawn", False)]
    np.testing.assert_array_equal(mine[1].pixels, digit(1))
    assert mine[0].pixels.dtype == np.uint8 and mine[0].created_at.tzinfo is not None
    assert [d.id for d in store.digits.digits("browser:a", label=3)] == [first]
    ids, x, y = mine.arrays()
    assert x.shape == (2, 28, 28) and x.dtype == np.uint8 and y.tolist() == [7, 3] and ids.tolist() == [second, first]
    assert store.digits.count("browser:a") == 2 and store.digits.count() == 3


def test_the_same_drawing_saved_again_is_relabelled_not_repeated(store):
    first = store.digits.save("browser:a", digit(1), 3)
    for label in (4, 5, 9, 9, 9):  # "It is a 4", then another key, then repeated clicks
        assert store.digits.save("browser:a", digit(1), label) == first
    [saved] = store.digits.digits("browser:a")
    assert saved.label == 9
    other = store.digits.save("browser:a", digit(2), 9)
    assert other != first and store.digits.count("browser:a") == 2


@pytest.mark.parametrize(
    ("pixels", "label", "source", "message"),
    [
        (digit(1), 10, "drawn", "0 to 9"),
        (digit(1), -1, "drawn", "0 to 9"),
        (digit(1), True, "drawn", "0 to 9"),
        (digit(1), "7", "drawn", "0 to 9"),
        (digit(1), 3.0, "drawn", "0 to 9"),
        (np.zeros((28, 28), np.uint8), 3, "drawn", "blank"),
        (np.ones((27, 28), np.uint8), 3, "drawn", "28x28"),
        (np.full((28, 28), 300.0), 3, "drawn", "0 to 255"),
        (np.full((28, 28), np.nan), 3, "drawn", "0 to 255"),
        ("not an image", 3, "drawn", "28x28"),
        (digit(1), 3, "camera", "drawn, uploaded"),
    ],
    ids=["10", "-1", "bool", "text", "float", "blank", "27 rows", "300", "nan", "text image", "source"],
)
def test_bad_input_is_refused_with_a_message_and_nothing_saved(store, pixels, label, source, message):
    with pytest.raises(DigitError, match=message):
        store.digits.save("browser:a", pixels, label, source)
    assert store.digits.count() == 0


def test_delete_one_or_all_only_the_owners(store):
    a = [store.digits.save("browser:a", digit(i), i % 10) for i in range(4)]
    b = store.digits.save("browser:b", digit(9), 1)
    assert not store.digits.delete(b, "browser:a") and not store.digits.delete("1", "browser:a")
    assert store.digits.delete(a[0], "browser:a")
    assert store.digits.delete_all("browser:a") == 3
    assert store.digits.count("browser:a") == 0 and [d.id for d in store.digits.digits("browser:b")] == [b]


def test_sharing_one_or_all_and_the_class_sets_counts(store):
    a = [store.digits.save("browser:a", digit(i), i % 3) for i in range(5)]
    b = [store.digits.save("browser:b", digit(10 + i), 7) for i in range(2)]
    store.digits.save("browser:c", digit(20), 7)  # never shared
    assert store.digits.share(a[0], "browser:a", "Ada")
    assert not store.digits.share(b[0], "browser:a", "thief")  # not theirs
    with pytest.raises(StoreError, match="nickname"):
        store.digits.share(a[1], "browser:a", " \n ")
    assert store.digits.share_all("browser:a", "Ada") == 4  # the four not shared yet
    assert store.digits.share_all("browser:b", "<b>Grace</b>\x00" + "x" * 100) == 2
    counts = store.digits.class_counts()
    assert counts.total == 7 and counts.by_label == {0: 2, 1: 2, 2: 1, 3: 0, 4: 0, 5: 0, 6: 0, 7: 2, 8: 0, 9: 0}
    grace = next(name for name in counts.by_nickname if name.startswith("<b>Grace"))
    assert list(counts.by_nickname.items()) == [("Ada", 5), (grace, 2)] and len(grace) <= NICKNAME_CHARS
    assert {d.owner for d in store.digits.class_set()} == {"browser:a", "browser:b"}
    assert [d.label for d in store.digits.class_set(label=7)] == [7, 7]
    assert store.digits.unshare(a[0], "browser:a") and store.digits.class_counts().total == 6


def test_limits_drop_the_oldest_unshared_digits_first(url):
    store = RunStore(url, Limits(digits_per_browser=3, digits_total=5), retry_seconds=0)
    ids = [store.digits.save("browser:a", digit(i), 1) for i in range(3)]
    store.digits.share(ids[0], "browser:a", "keep me")
    store.digits.save("browser:a", digit(3), 1)  # over 3: the oldest unshared (the second) goes
    assert sorted(d.id for d in store.digits.digits("browser:a")) == [ids[0], ids[2], ids[2] + 1]
    for i in range(3):
        store.digits.save("browser:b", digit(10 + i), 2)  # 6 in all: the oldest unshared (the third) goes
    assert store.digits.count() == 5
    assert sorted(d.id for d in store.digits.digits("browser:a")) == [ids[0], ids[2] + 1]
    store.dispose()


def test_rows_edited_into_other_values_are_skipped_with_a_logged_warning(store, url, caplog):
    good = store.digits.save("browser:a", digit(1), 3)
    bad = [store.digits.save("browser:a", digit(i), 3) for i in range(2, 5)]
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(update(digits).where(digits.c.id == bad[0]).values(pixels=b"\x01" * 783))
        connection.execute(update(digits).where(digits.c.id == bad[1]).values(pixels=b"\x01" * 785))
        connection.execute(update(digits).where(digits.c.id == bad[2]).values(label=12))
    engine.dispose()
    listing = store.digits.digits("browser:a")
    assert [d.id for d in listing] == [good] and listing.unreadable == 3
    messages = [r.getMessage() for r in caplog.records]
    assert any(f"digit {bad[0]}: its pixels are 783 bytes, not 784" in m for m in messages)
    assert any(f"digit {bad[2]}: its label is int 12" in m for m in messages)


def test_a_sqlite_row_with_pixels_of_another_type_is_skipped(tmp_path, caplog):
    path = tmp_path / "runs.sqlite"
    store = RunStore(sqlite_url(path), retry_seconds=0)
    good = store.digits.save("browser:a", digit(1), 3)
    with sqlite3.connect(path) as connection:
        connection.execute(
            f"INSERT INTO {DIGITS_TABLE} (owner, created_at, label, pixels, source, shared) "
            "VALUES ('browser:a', 'yesterday', 'three', 'text, not bytes', 'drawn', 0)"
        )
    connection.close()
    listing = store.digits.digits("browser:a")
    assert [d.id for d in listing] == [good] and listing.unreadable == 1
    assert any("its pixels are str" in r.getMessage() for r in caplog.records)
    store.dispose()


@pytest.mark.parametrize(
    "created_at", ["yesterday", "1999-12-31 23:59:59.000000", "2026-02-30 10:00:00", "2262-01-01 00:00:00"]
)
def test_a_sqlite_row_whose_only_fault_is_its_date_is_skipped_with_a_logged_warning(tmp_path, caplog, created_at):
    path = tmp_path / "runs.sqlite"
    store = RunStore(sqlite_url(path), retry_seconds=0)
    good = store.digits.save("browser:a", digit(1), 3)
    insert = (
        f"INSERT INTO {DIGITS_TABLE} (owner, created_at, label, pixels, source, shared, nickname) "
        "VALUES ('browser:a', ?, 3, ?, 'drawn', 1, 'Ada')"
    )
    with sqlite3.connect(path) as connection:
        bad = connection.execute(insert, (created_at, digit(2).tobytes())).lastrowid
        edited = connection.execute(insert, ("2026-12-06 10:00:00.000000", digit(3).tobytes())).lastrowid
    connection.close()
    listing = store.digits.digits("browser:a")
    assert sorted(d.id for d in listing) == [good, edited] and listing.unreadable == 1  # a good date reads
    shared = store.digits.class_set()
    assert [d.id for d in shared] == [edited] and shared.unreadable == 1
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    said = f"digit {bad}: created_at is str {created_at!r}, not a date from 2000 to 2261."
    assert sum(said in m for m in warnings) == 2, warnings
    store.dispose()


def test_a_row_edited_to_a_date_before_2000_is_skipped(store, url, caplog):
    good = store.digits.save("browser:a", digit(1), 3)
    bad = store.digits.save("browser:a", digit(2), 3)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            update(digits).where(digits.c.id == bad).values(created_at=datetime(1999, 12, 31, tzinfo=UTC))
        )
    engine.dispose()
    listing = store.digits.digits("browser:a")
    assert [d.id for d in listing] == [good] and listing.unreadable == 1
    said = [r.getMessage() for r in caplog.records if f"digit {bad}: created_at is " in r.getMessage()]
    assert said and all("1999" in m and m.endswith("not a date from 2000 to 2261.") for m in said), said


def test_a_migration_from_the_board_schema_keeps_the_runs_and_adds_digits(url):
    engine = create_engine(url)
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        assert DIGITS_TABLE not in inspect(connection).get_table_names()
        connection.execute(
            text(
                f"INSERT INTO {RUNS_TABLE} (owner, created_at, kind, name, status, optimizer, network, settings, "
                "layers, curves, examples_seen, epochs, train_seconds, wall_seconds, weight_count, test_accuracy) "
                "VALUES ('old', '2026-11-01 10:00:00', 'train', 'before digits', 'finished', 'sgd', 'convnetjs', "
                f"'{json.dumps(TrainSettings().to_dict())}', '[]', '{{}}', 1000, 1, 2.0, 3.0, 5994, 0.9)"
            )
        )
    engine.dispose()
    store = RunStore(url, retry_seconds=0)
    [old] = store.runs("old")
    assert old.name == "before digits"
    assert store.digits.save("old", digit(1), 5) is not None and store.digits.count() == 1
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == "0003"
    engine.dispose()
    assert known_revisions()[-1] == "0003"
    store.dispose()


def test_a_store_that_cannot_be_opened_refuses_with_a_message(tmp_path):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this is not a database " * 100)
    store = RunStore(sqlite_url(path), retry_seconds=0)
    with pytest.raises(StoreError, match="not an SQLite database"):
        store.digits.save("browser:a", digit(1), 3)
    with pytest.raises(StoreError, match="not an SQLite database"):
        store.digits.digits("browser:a")
    assert path.read_bytes() == b"this is not a database " * 100
