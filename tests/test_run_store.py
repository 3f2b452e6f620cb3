"""The run store on real databases: SQLite in a temporary file and PostgreSQL started by the tests, same tests."""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import replace

import numpy as np
import pytest
from alembic import command
from sqlalchemy import create_engine, inspect, text, update

from mnist_core.settings import TrainSettings, default_optimizer
from mnist_core.store import Limits, RunStore, StoreError, race_records, store_url, train_record
from mnist_core.store.config import ENV_VAR, default_path, sqlite_url
from mnist_core.store.curves import MAX_CURVE_POINTS, series
from mnist_core.store.migrate import _config, known_revisions
from mnist_core.store.schema import NAME_CHARS, NICKNAME_CHARS, RUNS_TABLE, VERSION_TABLE, runs
from mnist_core.store.weights import pack
from mnist_core.training.contestants import Contestant
from mnist_core.training.job import TrainingJob
from mnist_core.training.race import Race

pytestmark = pytest.mark.timeout(600)

BAD_NAMES = [
    "<script>alert('x')</script><b>bold</b>",
    "**bold** [link](http://example.com) :red[red] $x^2$",
    "'); DROP TABLE mnist_live_runs; --",
    "tab\there\nnew\x00line\x1b[31m\u202e",
    "x" * 10_000,
    "🙂🔥 digits ✍️",
]


@pytest.fixture(scope="module")
def finished_job(tiny):
    settings = TrainSettings(optimizer=default_optimizer("adam"), batch_size=100, epochs=1, seed=3)
    job = TrainingJob(settings, tiny)
    job.start()
    assert job.join(timeout=300)
    assert job.view().status == "finished", job.view().message
    return job


@pytest.fixture(scope="module")
def record(finished_job):
    return train_record(finished_job, "browser-a")


def test_the_schema_is_created_by_alembic_on_first_use(store, url):
    assert store.count() == 0
    engine = create_engine(url)
    with engine.connect() as connection:
        assert {RUNS_TABLE, VERSION_TABLE} <= set(inspect(connection).get_table_names())
        assert connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() == known_revisions()[-1]
    engine.dispose()


def test_a_finished_run_is_saved_with_everything_and_read_back(store, record, finished_job):
    run_id = store.save(record)
    assert run_id is not None and store.problem is None
    [summary] = store.runs("browser-a")
    assert summary.id == run_id and summary.status == "finished" and summary.kind == "train"
    assert summary.optimizer == "adam" and summary.network == "convnetjs" and summary.epochs == 1
    assert summary.examples_seen == len(finished_job.data.train) and summary.has_weights
    assert summary.test_accuracy == finished_job.view().last_epoch.test_accuracy_crops
    assert summary.examples_per_second > 0 and summary.train_seconds > 0 and summary.created_at.tzinfo
    assert summary.train_settings() == finished_job.settings
    stored = store.get(run_id)
    assert stored.layers() == finished_job.layers
    for mine, theirs in zip(stored.weights(), finished_job.weights()[1]):
        np.testing.assert_array_equal(mine, theirs)
    curves = series(stored.curves)
    assert 0 < len(curves["loss"]) <= MAX_CURVE_POINTS and len(curves["test_accuracy"]) == 1
    assert store.runs("browser-b") == []


def test_race_contestants_are_saved_one_run_each(store, tiny):
    contestants = [Contestant("Adam fast", default_optimizer("adam"), 100), Contestant("SGD", default_optimizer("sgd"))]
    race = Race(contestants, tiny, seed=1, budget_examples=600, eval_every_examples=300)
    race.on_end(lambda ended: [store.save(r) for r in race_records(ended, "browser-r", "convnetjs")])
    race.start()
    assert race.join(timeout=300)
    saved = {s.name: s for s in store.runs("browser-r")}
    assert set(saved) == {"Adam fast", "SGD"}
    assert all(s.kind == "race" and s.examples_seen >= 600 and s.has_weights for s in saved.values())
    assert saved["Adam fast"].train_settings().batch_size == 100
    curves = store.curves([s.id for s in saved.values()])
    assert all(len(series(c)["test_accuracy"]) == 3 for c in curves.values())  # the start and two evaluations


def test_overlay_curves_delete_and_only_the_owner_deletes(store, record):
    first, second = store.save(record), store.save(replace(record, name="second"))
    both = store.curves([first, second])
    assert set(both) == {first, second} and series(both[first]) == series(both[second])
    assert not store.delete(first, "someone-else")
    assert store.delete(first, "browser-a")
    assert [s.id for s in store.runs("browser-a")] == [second]


def test_sharing_puts_a_run_on_the_board_best_first(store, record):
    low = store.save(replace(record, owner="pupil-1", test_accuracy=0.91))
    high = store.save(replace(record, owner="pupil-2", test_accuracy=0.99))
    store.save(replace(record, owner="pupil-3", test_accuracy=0.999))  # not shared
    assert store.share(low, "pupil-1", "Ada") and store.share(high, "pupil-2", "Grace")
    assert not store.share(high, "pupil-1", "thief")  # not theirs
    assert [(s.nickname, s.id) for s in store.board()] == [("Grace", high), ("Ada", low)]
    with pytest.raises(StoreError, match="nickname"):
        store.share(low, "pupil-1", " \n\t ")
    assert store.unshare(high, "pupil-2")
    assert [s.id for s in store.board()] == [low]


@pytest.mark.parametrize("name", BAD_NAMES, ids=["html", "markdown", "sql", "control", "10kB", "emoji"])
def test_names_people_type_are_kept_literally_and_bounded(store, record, name):
    run_id = store.save(replace(record, name=name))
    assert store.share(run_id, "browser-a", name)
    assert store.rename(run_id, "browser-a", name)
    [summary] = store.board()
    for kept, limit in ((summary.nickname, NICKNAME_CHARS), (summary.name, NAME_CHARS)):
        assert 0 < len(kept) <= limit and all(c.isprintable() for c in kept)
        assert kept.rstrip("…") in " ".join("".join(c if c.isprintable() else " " for c in name).split())
    assert store.count() == 1  # the table is still there


def test_limits_drop_the_oldest_unshared_runs_first(url, record):
    store = RunStore(url, Limits(per_browser=3, total=5), retry_seconds=0)
    ids = [store.save(replace(record, name=f"a{i}")) for i in range(3)]
    store.share(ids[0], "browser-a", "keep me")
    ids.append(store.save(replace(record, name="a3")))  # over 3: the oldest unshared (a1) goes
    assert [s.name for s in store.runs("browser-a")] == ["a3", "a2", "a0"]
    for i in range(3):
        store.save(replace(record, owner="browser-b", name=f"b{i}"))  # 6 in all: the oldest unshared (a2) goes
    assert store.count() == 5 and [s.name for s in store.runs("browser-a")] == ["a3", "a0"]
    store.dispose()


def test_twenty_sessions_saving_at_once_lose_nothing(store, record):
    errors: list[BaseException] = []
    barrier = threading.Barrier(20)

    def session(n: int) -> None:
        try:
            barrier.wait()
            for k in range(5):
                assert store.save(replace(record, owner=f"session-{n}", name=f"{n}-{k}")) is not None
        except BaseException as exc:  # noqa: BLE001 - collected and reported below
            errors.append(exc)

    threads = [threading.Thread(target=session, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == [] and store.problem is None
    assert store.count() == 100
    assert all(len(store.runs(f"session-{n}")) == 5 for n in range(20))


def test_weights_that_do_not_fit_the_layers_are_refused_on_load(store, url, record):
    run_id = store.save(record)
    wrong = [np.zeros((3, 3, 1, 8), np.float32), *record.weights[1:]]
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(update(runs).where(runs.c.id == run_id).values(weights=pack(wrong)))
    engine.dispose()
    with pytest.raises(StoreError, match=r"do not fit its layers: weight array 1 .*\(5, 5, 1, 8\).*\(3, 3, 1, 8\)"):
        store.get(run_id).weights()


def test_a_migration_from_the_first_schema_keeps_the_runs(url):
    engine = create_engine(url)
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        columns = {c["name"] for c in inspect(connection).get_columns(RUNS_TABLE)}
        assert "shared" not in columns
        connection.execute(
            text(
                f"INSERT INTO {RUNS_TABLE} (owner, created_at, kind, name, status, optimizer, network, settings, "
                "layers, curves, examples_seen, epochs, train_seconds, wall_seconds, weight_count, test_accuracy) "
                "VALUES ('old', '2026-11-01 10:00:00', 'train', 'before the board', 'finished', 'sgd', 'convnetjs', "
                f"'{json.dumps(TrainSettings().to_dict())}', '[]', '{{}}', 1000, 1, 2.0, 3.0, 5994, 0.9)"
            )
        )
    engine.dispose()
    store = RunStore(url, retry_seconds=0)
    [old] = store.runs("old")
    assert old.name == "before the board" and not old.shared and old.nickname is None
    assert store.share(old.id, "old", "veteran") and store.board()[0].id == old.id
    store.dispose()


def test_a_job_trains_on_while_its_store_is_down_and_saving_resumes(tmp_path, tiny):
    path = tmp_path / "runs.sqlite"
    path.write_bytes(b"this is not a database " * 100)
    store = RunStore(sqlite_url(path), retry_seconds=0)
    settings = TrainSettings(batch_size=100, epochs=1)
    job = TrainingJob(settings, tiny)
    job.on_end(lambda ended: store.save(train_record(ended, "browser-a")))
    job.start()
    assert job.join(timeout=300)
    assert job.view().status == "finished"
    assert f"{path} is not an SQLite database" in store.problem and "1 ended run waits in memory" in store.problem
    with pytest.raises(StoreError, match="left as it is"):
        store.runs("browser-a")
    assert path.read_bytes() == b"this is not a database " * 100  # nothing overwritten
    path.unlink()  # the operator moves the file away
    store.flush()
    assert store.problem is None and len(store.runs("browser-a")) == 1
    store.dispose()


def test_a_foreign_or_newer_sqlite_file_is_named_and_left_alone(tmp_path, record):
    foreign = tmp_path / "foreign.sqlite"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE users (name TEXT)")
    before = foreign.read_bytes()
    store = RunStore(sqlite_url(foreign), retry_seconds=0)
    assert store.save(record) is None
    assert f"{foreign} is an SQLite database of another application (tables: users)" in store.problem
    assert foreign.read_bytes() == before

    newer = tmp_path / "newer.sqlite"
    RunStore(sqlite_url(newer)).count()
    with sqlite3.connect(newer) as connection:
        connection.execute(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    store = RunStore(sqlite_url(newer), retry_seconds=0)
    with pytest.raises(StoreError, match="revision '9999'.*newer version"):
        store.runs("x")


def test_an_unreachable_postgresql_or_unwritable_path_is_reported_not_raised(tmp_path, record):
    down = RunStore(store_url({ENV_VAR: f"postgresql+psycopg://nobody@/runs?host={tmp_path}&port=1"}), retry_seconds=0)
    assert down.save(record) is None and "cannot be used" in down.problem
    blocked = tmp_path / "a-file"
    blocked.write_text("not a directory")
    unwritable = RunStore(sqlite_url(blocked / "runs.sqlite"), retry_seconds=0)
    assert unwritable.save(record) is None and str(blocked) in unwritable.problem


def test_where_the_store_is_configured():
    assert store_url({}).database == str(default_path({}))
    assert str(default_path({"XDG_DATA_HOME": "/data"})) == "/data/mnist-live/runs.sqlite"
    assert store_url({ENV_VAR: "~/r.sqlite"}).database.endswith("/r.sqlite")
    assert store_url({ENV_VAR: "postgresql+psycopg://u:p@h/db"}).host == "h"
    secrets = {"dialect": "postgresql", "driver": "psycopg", "host": "db", "port": "5433", "database": "runs"}
    assert store_url({}, secrets).render_as_string() == "postgresql+psycopg://db:5433/runs"
    assert store_url({}, {"url": "sqlite:////tmp/x.sqlite"}).database == "/tmp/x.sqlite"
    assert Limits.from_env({"MNIST_LIVE_RUNS_PER_BROWSER": "7", "MNIST_LIVE_RUNS_TOTAL": "nonsense"}) == Limits(7)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (f"INSERT INTO {VERSION_TABLE} (version_num) VALUES ('9999')", "revision '9999'.*newer version"),
        (f"INSERT INTO {VERSION_TABLE} (version_num) VALUES ('0001')", "records 2 schema revisions"),
        (f"DELETE FROM {VERSION_TABLE}", "records no schema revision"),
    ],
    ids=["newer beside known", "two known", "none"],
)
def test_a_version_table_edited_by_hand_is_a_message_not_alembics_error(url, edit, message):
    RunStore(url).count()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(edit))
    engine.dispose()
    store = RunStore(url, retry_seconds=0)
    with pytest.raises(StoreError, match=message):
        store.runs("x")
    assert "left as it is" in store.check()
    store.dispose()
