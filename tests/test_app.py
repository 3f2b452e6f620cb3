"""The pages through streamlit.testing.v1.AppTest (headless, in-process)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.data import ENV_VAR

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(autouse=True)
def _navigation_pages_only(monkeypatch):
    """Run pages through st.navigation, as the real server does.

    AppTest rebuilds its PagesManager before every run, and seeing a `pages/` folder it falls back to the
    legacy multipage mode, where a rerun executes `pages/train.py` alone, without the entrypoint and its
    sidebar. A real server switches that mode off for good at the first `st.navigation` call.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def _app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_train_page_renders_with_sidebar_defaults():
    at = _app()
    assert at.title[0].value == "MNIST Live"
    assert at.sidebar.selectbox(key="optimizer").value == "adadelta"
    assert at.sidebar.text_input(key="adadelta.learning_rate").value == "1"
    assert not _button(at, "Train").disabled
    assert _button(at, "Stop").disabled
    assert not at.error


def test_invalid_sidebar_input_shows_errors_and_blocks_training():
    at = _app()
    at.sidebar.text_input(key="adadelta.learning_rate").set_value("fast").run()
    at.number_input(key="batch_size").set_value(-3).run()
    assert not at.exception
    errors = [e.value for e in at.sidebar.error]
    assert "Learning rate: 'fast' is not a number." in errors
    assert any(e.startswith("Batch size: -3 is out of range") for e in errors)
    assert any("settings in the sidebar are invalid" in e.value for e in at.main.error)
    assert _button(at, "Train").disabled
    at.sidebar.text_input(key="adadelta.learning_rate").set_value("0.5").run()
    at.number_input(key="batch_size").set_value(64).run()
    assert not at.error and not _button(at, "Train").disabled


def test_switching_optimizer_shows_its_fields():
    at = _app()
    at.sidebar.selectbox(key="optimizer").set_value("momentum").run()
    assert at.sidebar.text_input(key="momentum.momentum").value == "0.9"
    assert at.sidebar.text_input(key="momentum.learning_rate").value == "0.01"


def test_a_corrupt_dataset_file_is_explained_in_the_page(tmp_path, monkeypatch):
    bad = tmp_path / "mnist.npz"
    bad.write_bytes(b"not a zip file")
    monkeypatch.setenv(ENV_VAR, str(bad))
    at = _app()
    assert any("could not be loaded" in e.value and ENV_VAR in e.value for e in at.error)
    assert _button(at, "Train").disabled


def test_train_runs_to_the_end_and_shows_final_metrics():
    at = _app()
    at.number_input(key="epochs").set_value(1).run()
    _button(at, "Train").click().run()
    assert not at.exception
    job = at.session_state["job"]
    assert job.join(timeout=300)
    at.run()
    assert not at.exception
    snap = job.state.snapshot()
    assert snap.status == "finished", snap.message
    assert "Finished" in at.get("progress")[0].proto.text
    assert _metric(at, "Examples seen") == "55,000"
    test_acc = float(_metric(at, "Test accuracy (4 crops)").rstrip("%"))
    assert test_acc > 90
    assert not _button(at, "Train").disabled
    assert at.get("download_button")


def test_script_runs_leave_the_keras_session_alone(monkeypatch):
    import keras
    from streamlit.runtime.scriptrunner import script_runner

    cleared = []
    monkeypatch.setattr(keras.backend, "clear_session", lambda *a, **k: cleared.append(1))
    monkeypatch.setattr(script_runner, "_clean_problem_modules", script_runner._clean_problem_modules)
    at = _app()
    at.run()
    assert cleared == []
