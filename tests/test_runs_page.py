"""The Runs page through AppTest, on a real SQLite store in a temporary file and runs a real job trained."""

from __future__ import annotations

from dataclasses import replace

import pyarrow as pa
import pytest
from sqlalchemy import create_engine, update
from streamlit.testing.v1 import AppTest

from mnist_core.settings import TrainSettings, default_optimizer
from mnist_core.store import RunStore, store_url, train_record
from mnist_core.store.config import ENV_VAR
from mnist_core.store.schema import runs
from mnist_core.store.weights import pack
from mnist_core.training.job import TrainingJob
from tests.test_app import APP, _navigation_pages_only  # noqa: F401 - the autouse fixture

pytestmark = pytest.mark.timeout(600)
ME, CLASSMATE = "browser:me-aaaaaaaaaaaaaaaaaaaa", "browser:classmate-bbbbbbbbbbbbbb"
TRICKY = "<b>bold</b> **not bold** [x](http://e.com) 🙂"
NICKNAME = "<i>Ada</i> **x** 'DROP 🙂"  # within the nickname field's 40 characters


@pytest.fixture(scope="module")
def record(tiny):
    settings = TrainSettings(optimizer=default_optimizer("momentum"), batch_size=64, epochs=1, seed=5, averaging=0.0)
    job = TrainingJob(settings, tiny)
    job.start()
    assert job.join(timeout=300) and job.view().status == "finished"
    return train_record(job, ME)


@pytest.fixture
def store(tmp_path, monkeypatch):
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv(ENV_VAR, str(path))
    held = RunStore(store_url())
    yield held
    held.dispose()


def _runs_page(owner: str = ME) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["runs_owner"] = owner
    at.switch_page("pages/runs.py").run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str, index: int = 0):
    return [b for b in at.button if b.label == label][index]


def _charts(at: AppTest) -> list:
    frames = []
    for chart in at.get("vega_lite_chart"):
        frames.append(pa.ipc.open_stream(chart.proto.data.data).read_pandas())
    return frames


def test_with_no_runs_the_page_says_how_to_make_some(store):
    at = _runs_page()
    assert at.title[0].value == "Runs"
    assert any("No runs yet" in i.value for i in at.info)
    assert any("No runs are shared yet" in i.value for i in at.info)
    assert not at.error and not at.warning


def test_with_runs_the_table_lists_them_and_two_are_overlaid(store, record):
    ids = [store.save(replace(record, name=f"run {i}")) for i in range(3)]
    store.save(replace(record, owner=CLASSMATE, name="not mine"))
    at = _runs_page()
    table = at.dataframe[0].value
    assert sorted(table["run"]) == sorted(ids) and "not mine" not in set(table["name"])
    assert at.multiselect(key="runs_overlay").value == [ids[2], ids[1]]  # the newest two
    loss, accuracy = _charts(at)
    assert set(loss[loss.metric == "loss"].run) == {f"#{ids[2]} run 2 ({record.test_accuracy:.2%})",
                                                   f"#{ids[1]} run 1 ({record.test_accuracy:.2%})"}  # fmt: skip
    assert set(accuracy.metric) == {"loss", "test_accuracy"}  # one frame, each chart filters its metric
    at.multiselect(key="runs_overlay").set_value([ids[0]]).run()
    assert set(_charts(at)[0].run) == {f"#{ids[0]} run 0 ({record.test_accuracy:.2%})"}


def test_filters_and_sorting_narrow_and_order_the_table(store, record):
    best = store.save(replace(record, test_accuracy=0.999))
    adam = record.settings.with_(optimizer=default_optimizer("adam"))
    newest = store.save(replace(record, settings=adam, status="stopped", test_accuracy=0.5))
    at = _runs_page()
    assert list(at.dataframe[0].value["run"]) == [newest, best]
    at.selectbox(key="runs_sort").set_value("Best test accuracy first").run()
    assert list(at.dataframe[0].value["run"]) == [best, newest]
    at.multiselect(key="runs_filter_optimizer").set_value(["Adam"]).run()
    assert list(at.dataframe[0].value["optimizer"]) == ["Adam"]
    at.multiselect(key="runs_filter_status").set_value(["finished"]).run()
    assert any("No run matches" in i.value for i in at.info)


def test_use_these_settings_fills_the_sidebar(store, record):
    run_id = store.save(record)
    at = _runs_page()
    assert at.sidebar.selectbox(key="optimizer").value == "adadelta"
    at.selectbox(key="runs_detail").set_value(run_id)
    _button(at, "Use these settings").click().run()
    assert not at.exception, at.exception
    assert at.sidebar.selectbox(key="optimizer").value == "momentum"
    assert at.sidebar.number_input(key="batch_size").value == 64
    assert at.sidebar.text_input(key="averaging").value == "0"
    assert any(f"run {run_id}" in s.value and "now holds" in s.value for s in at.success)


def test_shared_runs_reach_another_browsers_board_and_its_settings_button(store, record):
    run_id = store.save(record)
    at = _runs_page()
    at.text_input(key=f"runs_nickname_{run_id}").set_value(NICKNAME)
    _button(at, "Share on the class board").click().run()
    assert any("on the class board" in s.value for s in at.success)
    other = _runs_page(CLASSMATE)
    board = other.dataframe[0].value  # the classmate has no runs: the board's table is the first
    assert list(board["nickname"]) == [NICKNAME] and list(board["run"]) == [run_id]
    assert any("No runs yet" in i.value for i in other.info)
    _button(other, "Use these settings").click().run()
    assert other.sidebar.selectbox(key="optimizer").value == "momentum"


def test_names_show_literally_and_deleting_removes_the_run(store, record):
    run_id = store.save(replace(record, name=TRICKY))
    store.share(run_id, ME, TRICKY)
    at = _runs_page()
    assert list(at.dataframe[0].value["name"]) == [TRICKY]
    shown = [m.value for m in at.markdown if "On the class board" in m.value]
    assert shown and r"\<b\>bold\<\/b\> \*\*not bold\*\* \[x\]\(http" in shown[0]  # escaped: shown as typed
    _button(at, "Delete this run").click().run()
    assert any("No runs yet" in i.value for i in at.info) and store.count() == 0


def test_weights_edited_to_misfit_are_refused_with_a_message(store, record, tmp_path):
    run_id = store.save(record)
    engine = create_engine(store.url)
    with engine.begin() as connection:
        connection.execute(update(runs).where(runs.c.id == run_id).values(weights=pack(record.weights[:2])))
    engine.dispose()
    at = _runs_page()
    _button(at, "Draw with this network").click().run()
    assert any("do not fit its layers" in e.value and "Not loaded" in e.value for e in at.error)
    assert "snapshot_for_drawing" not in at.session_state


def test_a_corrupt_store_is_named_and_every_page_keeps_working(tmp_path, monkeypatch):
    path = tmp_path / "broken.sqlite"
    path.write_bytes(b"\x00garbage" * 64)
    monkeypatch.setenv(ENV_VAR, str(path))
    at = _runs_page()
    assert any(r"broken\.sqlite is not an SQLite database" in w.value for w in at.warning), at.warning
    assert any("cannot be read" in e.value for e in at.error)
    at.switch_page("pages/train.py").run()
    assert not at.exception and at.title[0].value == "MNIST Live"
    assert path.read_bytes() == b"\x00garbage" * 64


def test_draw_with_a_stored_network_and_continue_training_from_it(store, record):
    run_id = store.save(record)
    at = _runs_page()
    _button(at, "Draw with this network").click().run()
    assert not at.exception, at.exception
    drawing = at.session_state["snapshot_for_drawing"]
    assert drawing.settings.optimizer.name == "momentum" and f"run {run_id}" in drawing.description
    for mine, stored in zip(drawing.weights, record.weights):
        assert (mine == stored).all()
    _button(at, "Continue training from it").click().run()
    assert not at.exception, at.exception
    job = at.session_state["job"]
    assert job.start_point.examples_seen == record.examples_seen and job.settings.batch_size == 64
    assert job.initial_weights is not None and (job.initial_weights[0] == record.weights[0]).all()
    job.stop()
    assert job.join(timeout=120)


def test_the_store_can_come_from_streamlit_secrets(tmp_path, monkeypatch, record):
    monkeypatch.delenv(ENV_VAR, raising=False)
    path = tmp_path / "from-secrets.sqlite"
    held = RunStore(store_url({ENV_VAR: str(path)}))
    run_id = held.save(record)
    held.dispose()
    at = AppTest.from_file(APP, default_timeout=180)
    at.secrets["connections"] = {"runs": {"url": f"sqlite:///{path}"}}
    at.session_state["runs_owner"] = ME
    at.switch_page("pages/runs.py").run()
    assert not at.exception, at.exception
    assert list(at.dataframe[0].value["run"]) == [run_id]


def test_a_race_on_the_compare_page_puts_each_contestant_in_the_history(store):
    from mnist_core.training.contestants import COLUMNS

    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["runs_owner"] = ME
    at.switch_page("pages/compare.py")
    at.session_state["compare_rows"] = [
        {**dict.fromkeys(COLUMNS), "name": name, "optimizer": "adam", "learning_rate": rate, "beta_1": 0.9,
         "beta_2": 0.999, "epsilon": 1e-7, "batch_size": 128, "weight_decay": 0.001}
        for name, rate in (("Adam", 0.001), ("Adam <fast>", 0.01))
    ]  # fmt: skip
    at.session_state["compare_version"] = 99
    at.run()
    at.number_input[0].set_value(1_000).run()  # budget
    at.number_input[1].set_value(500).run()  # evaluate every
    next(b for b in at.button if b.label == "Start race").click().run()
    assert at.session_state["race"].join(timeout=300)
    saved = {s.name: s for s in store.runs(ME)}
    assert set(saved) == {"Adam", "Adam <fast>"}
    assert all(s.kind == "race" and s.status == "finished" and s.examples_seen >= 1_000 for s in saved.values())
    at.switch_page("pages/runs.py").run()
    assert sorted(at.dataframe[0].value["name"]) == ["Adam", "Adam <fast>"]


def _plain(markdown: str) -> str:
    return markdown.replace("\\", "")  # the page escapes Markdown punctuation in messages


@pytest.mark.parametrize("raw", ["postgresql://u:secretpw@h:notaport/db", "://", "mysql://u@h/db"])
def test_a_store_url_that_cannot_be_used_is_named_and_training_goes_on(monkeypatch, raw):
    monkeypatch.setenv(ENV_VAR, raw)
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["runs_owner"] = ME
    at.run()
    _button(at, "Train").click().run()
    assert not at.exception, at.exception
    job = at.session_state["job"]
    job.stop()
    assert job.join(timeout=120)
    at.switch_page("pages/runs.py").run()
    assert not at.exception, at.exception
    [warning] = [_plain(w.value) for w in at.warning if "Runs are not being saved now" in w.value]
    assert f"{ENV_VAR} is not a database URL this app can use" in warning or f"{ENV_VAR} names the driver" in warning
    assert "secretpw" not in warning
    for page in ("pages/draw.py", "pages/compare.py", "pages/teachers.py"):
        at.switch_page(page).run()
        assert not at.exception, (page, at.exception)


@pytest.mark.parametrize("var", ["MNIST_LIVE_RUNS_PER_BROWSER", "MNIST_LIVE_RUNS_TOTAL", "MNIST_LIVE_RUN_WEIGHTS_MB"])
def test_a_store_limit_that_is_not_usable_is_named_on_the_runs_page(store, monkeypatch, var):
    monkeypatch.setenv(var, "1e999")
    at = _runs_page()
    [note] = [_plain(w.value) for w in at.warning if var in _plain(w.value)]
    assert "'1e999' is not a whole number of" in note and "using the default" in note
    assert not any("not being saved" in w.value for w in at.warning)


def test_a_secrets_table_that_cannot_be_used_is_named_on_the_runs_page(monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    at = AppTest.from_file(APP, default_timeout=180)
    at.secrets["connections"] = {"runs": {"url": ["not", "text"], "port": "five"}}
    at.session_state["runs_owner"] = ME
    at.switch_page("pages/runs.py").run()
    assert not at.exception, at.exception
    assert any("[connections.runs] in Streamlit's secrets" in _plain(w.value) for w in at.warning), at.warning


def test_rows_edited_into_nonsense_are_counted_on_both_tabs_and_the_rest_shown(store, record):
    import sqlite3

    from mnist_core.store.schema import RUNS_TABLE

    run_id = store.save(record)
    store.share(run_id, ME, "Ada")
    store.dispose()
    with sqlite3.connect(store.url.database) as connection:
        columns = ", ".join(c for c in runs.columns.keys() if c != "id")  # noqa: SIM118 - a column collection
        copy = f"INSERT INTO {RUNS_TABLE} ({columns}) SELECT {columns} FROM {RUNS_TABLE} WHERE id = {run_id}"
        connection.execute(copy)
        connection.execute(copy)
        connection.execute(f"UPDATE {RUNS_TABLE} SET created_at = 'yesterday' WHERE id = {run_id + 1}")
        connection.execute(f"UPDATE {RUNS_TABLE} SET test_accuracy = 'high', shared = 0 WHERE id = {run_id + 2}")
    connection.close()
    at = _runs_page()
    assert list(at.dataframe[0].value["run"]) == [run_id]
    warnings = [w.value for w in at.warning]
    assert any("2 stored runs could not be read and are not shown" in w for w in warnings), warnings
    assert any("1 stored run could not be read and is not shown" in w for w in warnings), warnings  # the board
    assert list(at.dataframe[-1].value["run"]) == [run_id]  # the class board's table
