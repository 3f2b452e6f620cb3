"""The sidebar's Snapshots panel through AppTest: save, load, continue training, draw with it, refuse bad files."""

from __future__ import annotations

import io
import zipfile

import keras
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import mnist_core.snapshots
from mnist_core.model.architecture import CONVNETJS
from mnist_core.settings import TrainSettings, default_optimizer
from mnist_core.snapshots import format as snapshot_format
from mnist_core.snapshots import load as snapshot_load
from mnist_core.snapshots import load_snapshot, save_snapshot
from mnist_core.training.run_state import EpochRecord, RunView
from tests.conftest import wait_until
from tests.test_app import APP, _navigation_pages_only  # noqa: F401 - the autouse fixture
from tools.pretrain import MODEL_PATH

pytestmark = pytest.mark.timeout(900)

SETTINGS = TrainSettings(optimizer=default_optimizer("momentum"), batch_size=64, epochs=1, seed=7, averaging=0.0)
SMALL_NET = [
    {"type": "conv", "filters": 4, "kernel": 5, "stride": 2, "padding": "valid", "activation": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]
HISTORY = RunView(
    examples_seen=440_000,
    train_seconds=40.0,
    history=(EpochRecord(8, 440_000, 40.0, 0.05, 0.98, 0.04, 0.99, 0.9914, 0.9917, 4),),
)


def _pretrained_model() -> keras.Model:
    return keras.saving.load_model(MODEL_PATH, safe_mode=True, compile=False)


@pytest.fixture(scope="module")
def pretrained_file() -> bytes:
    """The bundled network as a snapshot, with the figures it was made with."""
    return save_snapshot(_pretrained_model(), CONVNETJS, SETTINGS, HISTORY)


@pytest.fixture(scope="module")
def shifted_file() -> bytes:
    """The bundled network with its output classes rotated: it answers d + 1 where the bundled one says d."""
    weights = _pretrained_model().get_weights()
    kernel, bias = weights[-2], weights[-1]
    weights[-2], weights[-1] = np.roll(kernel, 1, axis=1), np.roll(bias, 1)
    return save_snapshot(weights, CONVNETJS, SETTINGS, None)


def _app(panel_open: bool = True) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["snapshot_panel_open"] = panel_open  # the Snapshots expander
    at.run()
    assert not at.exception, at.exception
    return at


def _button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def _upload(at: AppTest, name: str, data: bytes) -> AppTest:
    at.sidebar.file_uploader(key="snapshot_upload").upload(name, data, "application/zip").run()
    assert not at.exception, at.exception
    return at


def _start_training(at: AppTest, epochs: int = 6):
    at.number_input(key="epochs").set_value(epochs).run()
    _button(at, "Train").click().run()
    return at.session_state["job"]


def test_the_panel_and_its_constants():
    from ui.network import CUSTOM
    from ui.snapshots import UPLOAD_LIMIT_MB

    assert snapshot_format.CUSTOM_PRESET == CUSTOM
    assert UPLOAD_LIMIT_MB * 2**20 == snapshot_format.MAX_SNAPSHOT_BYTES
    closed = _app(panel_open=False)
    assert any(e.label == "Snapshots" for e in closed.sidebar.expander)
    assert not closed.sidebar.get("file_uploader") and not closed.get("download_button")  # drawn only when open
    at = _app()
    assert any(e.label == "Snapshots" for e in at.sidebar.expander)
    save = next(d for d in at.get("download_button") if d.proto.label == "Save snapshot")
    assert save.proto.disabled  # nothing of the session's to save yet
    assert at.sidebar.file_uploader(key="snapshot_upload").allowed_type == [".zip"]
    assert not at.error


def test_save_builds_a_snapshot_of_the_running_job_that_loads_back():
    from ui.snapshots import _snapshot_bytes

    at = _app()
    job = _start_training(at, epochs=1)
    wait_until(lambda: job.state.view().weights_version > 0)
    at.run()
    save = next(d for d in at.get("download_button") if d.proto.label == "Save snapshot")
    assert not save.proto.disabled
    loaded = load_snapshot(_snapshot_bytes(job))  # what the button's lazy data gives
    assert loaded.layers == job.layers and loaded.settings == job.settings
    assert job.join(300)
    at.run()
    loaded = load_snapshot(_snapshot_bytes(job))
    assert loaded.examples_seen == 55_000 and [r.epoch for r in loaded.epochs] == [1]


def test_use_for_drawing_makes_the_draw_page_answer_with_the_snapshot(mnist, shifted_file):
    from mnist_core.data.preprocess import preprocess

    at = _upload(_app(), "shifted.mnistlive.zip", shifted_file)
    described = load_snapshot(shifted_file).description
    assert any(described in i.value for i in at.sidebar.info)
    _button(at, "Use for drawing").click().run()
    assert not at.exception, at.exception
    at.switch_page("pages/draw.py").run()
    at.segmented_control(key="draw_source").set_value("Random test digit").run()
    assert not at.exception, at.exception
    assert any(f"**Loaded snapshot:** {described}" in m.value for m in at.markdown)
    index = at.session_state["draw_test_index"]
    final = preprocess(mnist.test.x[index]).final
    expected = load_snapshot(shifted_file).model.predict(final, k=4, seed=0).labels[0]
    big = next(h.proto.body for h in at.get("html") if "confident" in h.proto.body)
    assert f">{expected}</span>" in big

    # A fresh Train takes over; the snapshot no longer answers once the session has a network of its own.
    at.switch_page("pages/train.py").run()
    job = _start_training(at, epochs=1)
    wait_until(lambda: job.state.view().weights_version > 0)
    at.switch_page("pages/draw.py").run()
    at.segmented_control(key="draw_source").set_value("Random test digit").run()
    assert not any("Loaded snapshot" in m.value for m in at.markdown)
    assert any("Your network" in m.value for m in at.markdown)
    job.stop()
    job.join(120)


def test_continue_training_starts_from_the_snapshot(pretrained_file, monkeypatch):
    from streamlit.elements.lib import policies

    warnings: list[str] = []
    monkeypatch.setattr(policies, "_shown_default_value_warning", False)  # Streamlit warns once per process
    monkeypatch.setattr(policies._LOGGER, "warning", lambda message, *args, **kw: warnings.append(message % args))
    at = _upload(_app(), "pretrained.mnistlive.zip", pretrained_file)
    loaded = at.session_state["snapshot_loaded"][1]
    _button(at, "Continue training").click().run()
    assert not at.exception, at.exception
    assert not warnings  # the sidebar's widgets take the snapshot's values from session state alone
    job = at.session_state["job"]
    assert job.layers == CONVNETJS and job.settings == SETTINGS
    assert all(np.array_equal(a, b) for a, b in zip(job.initial_weights, loaded.weights))
    assert at.sidebar.selectbox(key="optimizer").value == "momentum"  # the sidebar shows what trains
    assert at.sidebar.number_input(key="batch_size").value == 64 and at.sidebar.number_input(key="seed").value == 7
    assert at.title[0].value == "MNIST Live"  # the Train page, to watch it
    assert not at.main.warning  # no "needs a reset": the sidebar and the job agree
    assert job.join(300)
    at.run()
    snap = job.state.view()
    assert snap.status == "finished", snap.message
    assert [r.epoch for r in snap.history] == [8, 9] and snap.examples_seen == 440_000 + 55_000
    new = [p for p in snap.progress if p.examples_seen > 440_000]
    assert new and new[0].train_accuracy > 0.9  # trained weights from the first batch, not chance (0.1)
    assert snap.history[-1].test_accuracy_crops > 0.98
    assert "epoch 9 of 9" in at.get("progress")[0].proto.text


def test_continue_training_a_custom_network_makes_it_the_sessions_network():
    from mnist_core.model.architecture import build_model

    data = save_snapshot(build_model(SMALL_NET, 1), SMALL_NET, SETTINGS.with_(preset="custom"), None)
    at = _upload(_app(), "custom.mnistlive.zip", data)
    assert any("Custom network (3 layers" in i.value for i in at.sidebar.info)
    _button(at, "Continue training").click().run()
    assert not at.exception, at.exception
    job = at.session_state["job"]
    assert job.layers == SMALL_NET and at.session_state["custom_layers"] == SMALL_NET
    assert at.session_state["preset"] == "custom" and job.settings.preset == "custom"
    job.stop()
    assert job.join(120)


def _junk_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "hello")
    return buffer.getvalue()


def test_bad_uploads_are_explained_and_leave_a_running_job_alone(monkeypatch, pretrained_file):
    at = _app()
    job = _start_training(at, epochs=3)
    bad = [
        ("random.zip", np.random.default_rng(0).bytes(4000), "not a zip file"),
        ("empty.zip", b"", "The file is empty."),
        ("junk.zip", _junk_zip(), "unexpected file 'notes.txt'"),
    ]
    for name, data, fragment in bad:
        _upload(at, name, data)
        errors = [e.value for e in at.sidebar.error]
        assert any(name in e and "could not be loaded" in e and fragment in e for e in errors), errors
        assert not any(b.label == "Continue training" for b in at.button)  # nothing to act on
    monkeypatch.setattr(snapshot_load, "MAX_SNAPSHOT_BYTES", 1000)
    _upload(at, "big.mnistlive.zip", pretrained_file)
    assert any("big.mnistlive.zip" in e.value and "snapshots are at most" in e.value for e in at.sidebar.error)
    assert at.session_state["job"] is job and job.alive
    assert job.state.view().status in ("starting", "running")
    job.stop()
    assert job.join(120)


def test_a_good_upload_asks_before_replacing_a_running_job(pretrained_file):
    at = _app()
    job = _start_training(at)
    _upload(at, "pretrained.mnistlive.zip", pretrained_file)
    assert any("is training" in w.value for w in at.sidebar.warning)
    assert _button(at, "Use for drawing").disabled and _button(at, "Continue training").disabled
    assert job.alive and at.session_state["job"] is job
    at.sidebar.checkbox(key="snapshot_replace").check().run()
    _button(at, "Use for drawing").click().run()
    assert not at.exception, at.exception
    assert "job" not in at.session_state and job.join(120)
    assert job.state.view().status == "stopped"
    at.switch_page("pages/inside.py").run()
    assert any("Loaded snapshot:" in m.value for m in at.markdown)


def _with_manifest(data: bytes, edit) -> bytes:
    import json

    from tools.fuzz_snapshot import members, zipped

    files = members(data)
    manifest = json.loads(files["manifest.json"])
    edit(manifest)
    files["manifest.json"] = json.dumps(manifest).encode()
    return zipped(files)


def test_hostile_values_are_explained_and_only_our_bugs_are_unexpected_errors(monkeypatch, caplog):
    from tools.fuzz_snapshot import tiny_snapshot

    at = _app()
    bad = [
        ("late.mnistlive.zip", lambda m: m.update(created="9999-12-31T23:59:59-14:00"), "created is"),
        ("early.mnistlive.zip", lambda m: m.update(created="0001-01-01T00:00:00+14:00"), "years 2000-2100"),
        ("layers.mnistlive.zip", lambda m: m["layers"][2].update(size=0), "network is invalid: row 3"),
    ]
    for name, edit, fragment in bad:
        _upload(at, name, _with_manifest(tiny_snapshot(), edit))
        errors = [e.value for e in at.sidebar.error]
        assert any(name in e and fragment in e for e in errors), errors
        assert not any("unexpected error" in e for e in errors), errors

    def broken(data: bytes):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(mnist_core.snapshots, "load_snapshot", broken)
    with caplog.at_level("ERROR", logger="ui.snapshots"):
        _upload(at, "fine.mnistlive.zip", tiny_snapshot())
    assert any("fine.mnistlive.zip" in e.value and "an unexpected error" in e.value for e in at.sidebar.error)
    logged = [r for r in caplog.records if r.name == "ui.snapshots"]
    assert logged and logged[0].exc_info and "a bug of ours" in str(logged[0].exc_info[1])
