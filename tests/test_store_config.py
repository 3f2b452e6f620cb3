"""Run store settings that are not usable: limits fall back with a note, URLs and drivers become the store's problem.

No training here: a record built by hand, SQLite in temporary files, and URLs that are refused before any
connection is tried.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.engine import make_url

from mnist_core.model.architecture import PRESETS
from mnist_core.settings import TrainSettings
from mnist_core.store import Limits, RunRecord, RunStore, StoreError, store_config
from mnist_core.store.config import (
    ENV_VAR,
    LIMIT_SPECS,
    PER_BROWSER_VAR,
    SECRETS_SOURCE,
    TOTAL_VAR,
    WEIGHTS_MB_VAR,
    read_limits,
    sqlite_url,
)

pytestmark = pytest.mark.timeout(120)
NOT_WHOLE = ["inf", "-inf", "1e999", "9" * 400, "-" + "9" * 400, "nan", "1.5", "1e3", "lots", "0", "-3", "\x00"]
BAD_URLS = [
    "postgresql://u:secretpw@h:notaport/db",
    "://",
    "postgresql://u:secretpw@h:99999999/db",
    "sqlite:///runs%00.sqlite",
    "sqlite:///runs.sqlite?timeout=soon",
    "~no-such-user-here/runs.sqlite",
    "runs\x00.sqlite",
    "\udcff/runs.sqlite",
]
BAD_SECRETS = [
    "a string",
    ["a", "list"],
    {"url": ["sqlite:///x.sqlite"]},
    {"url": 5},
    {"url": "://"},
    {"dialect": "postgresql", "host": "db", "port": "five"},
    {"dialect": "postgresql", "host": "db", "port": True},
    {"dialect": "postgresql", "host": "db", "port": 99_999_999},
    {"dialect": 5},
    {"dialect": "postgresql", "username": ["u"]},
    {"dialect": "postgresql", "query": "sslmode=require"},
    {"dialect": "postgresql", "query": {"sslmode": 1}},
    {"dialect": "mysql", "host": "db"},
]


def _record(owner: str = "browser-a") -> RunRecord:
    return RunRecord(
        owner=owner, kind="train", name="by hand", status="finished", settings=TrainSettings(),
        layers=PRESETS["convnetjs"], curves="{}", test_accuracy=0.9, validation_accuracy=0.9, final_loss=0.3,
        examples_seen=1_000, epochs=1, train_seconds=1.0, wall_seconds=1.0,
    )  # fmt: skip


def _store(config) -> RunStore:
    return RunStore(config.url, config.limits, retry_seconds=0, unusable=config.problem, notes=config.notes)


# --- limits ---


@pytest.mark.parametrize("raw", NOT_WHOLE, ids=lambda raw: repr(raw[:12]))
@pytest.mark.parametrize("var", [spec.var for spec in LIMIT_SPECS])
def test_limits_that_are_not_whole_numbers_in_range_fall_back_to_the_default_and_say_so(var, raw):
    assert Limits.from_env({var: raw}) == Limits()
    limits, notes = read_limits({var: raw})
    [note] = notes
    spec = next(spec for spec in LIMIT_SPECS if spec.var == var)
    assert limits == Limits() and note.startswith(f"{var}=") and repr(raw[:20])[1:-1] in note
    assert f"from {spec.low:,} to {spec.high:,}" in note and f"using the default, {spec.default:,}." in note
    assert len(note) < 200 and note.isprintable()
    config = store_config({var: raw, ENV_VAR: "/tmp/unused.sqlite"})
    assert config.notes == (note,) and config.problem is None and _store(config).notes == (note,)


def test_limits_in_range_are_used_and_blank_ones_are_unset():
    env = {PER_BROWSER_VAR: " 7 ", TOTAL_VAR: "10000000", WEIGHTS_MB_VAR: "\uff11"}  # a full-width 1
    assert read_limits(env) == (Limits(7, 10_000_000, 2**20), ())
    assert read_limits({PER_BROWSER_VAR: "", TOTAL_VAR: "  "}) == (Limits(), ())
    assert read_limits({PER_BROWSER_VAR: "100001", WEIGHTS_MB_VAR: "1025"})[0] == Limits()


# --- URLs ---


@pytest.mark.parametrize("raw", BAD_URLS, ids=lambda raw: repr(raw[:20]))
def test_a_store_url_this_app_cannot_use_is_the_stores_problem_and_saving_goes_on(raw):
    config = store_config({ENV_VAR: raw})
    assert config.url is None
    assert config.problem.startswith(f"{ENV_VAR} is not a database URL this app can use: ")
    assert "secretpw" not in config.problem and len(config.problem) < 400
    config.problem.encode("utf-8")  # no lone surrogate: the page can send it
    store = _store(config)
    assert store.save(_record()) is None and store.check() == store.problem
    assert store.problem.startswith(config.problem) and "1 ended run waits in memory until the server restarts" in (
        store.problem
    )
    with pytest.raises(StoreError, match=ENV_VAR):
        store.runs("browser-a")


@pytest.mark.parametrize("raw", ["mysql://u:secretpw@db/runs", "nosuchdialect://db/runs", "postgresql+nodriver://db/x"])
def test_a_driver_that_is_not_installed_is_named_and_saving_does_not_raise(raw):
    config = store_config({ENV_VAR: raw})
    assert config.url is None and config.problem.startswith(f"{ENV_VAR} names the driver ")
    assert "which is not installed here" in config.problem and "secretpw" not in config.problem
    assert _store(config).save(_record()) is None
    direct = RunStore(make_url(raw), retry_seconds=0)  # a store given the URL without the settings' check
    assert direct.save(_record()) is None and direct.save(_record()) is None
    assert "needs a driver that is not installed here" in direct.problem and "2 ended runs wait" in direct.problem
    with pytest.raises(StoreError, match="not installed"):
        direct.count()


def test_odd_but_usable_urls_give_a_store(tmp_path):
    memory = store_config({ENV_VAR: "sqlite://"})
    assert memory.problem is None
    store = _store(memory)
    saved = []
    thread = threading.Thread(target=lambda: saved.append(store.save(_record())))
    thread.start()
    thread.join(timeout=60)
    assert saved == [1] and [s.id for s in store.runs("browser-a")] == [1]  # the same in-memory database
    store.dispose()
    odd = tmp_path / "ünïcode 🙂 runs.sqlite"
    store = _store(store_config({ENV_VAR: str(odd)}))
    assert store.save(_record()) == 1 and odd.exists()
    store.dispose()


def test_a_path_too_long_for_the_system_is_reported_short(tmp_path):
    store = _store(store_config({ENV_VAR: str(tmp_path / ("x" * 10_000))}))
    assert store.save(_record()) is None
    assert "cannot be used" in store.problem and len(store.problem) < 700


# --- secrets ---


@pytest.mark.parametrize("secrets", BAD_SECRETS, ids=lambda s: repr(s)[:30])
def test_a_secrets_table_this_app_cannot_use_is_named_as_the_problem(secrets):
    config = store_config({}, secrets)
    assert config.url is None and config.problem.startswith(SECRETS_SOURCE), config.problem
    assert _store(config).save(_record()) is None


def test_the_environment_wins_over_secrets_and_an_empty_table_means_the_default(tmp_path):
    path = tmp_path / "env.sqlite"
    assert store_config({ENV_VAR: str(path)}, ["not", "a", "table"]).url == sqlite_url(path)
    assert store_config({"XDG_DATA_HOME": str(tmp_path)}, {}).url.database.startswith(str(tmp_path))
    parts = {"dialect": "postgresql", "driver": "psycopg", "host": "db", "port": 5433, "query": {"sslmode": "off"}}
    assert store_config({}, parts).url.render_as_string() == "postgresql+psycopg://db:5433?sslmode=off"
