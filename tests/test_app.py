"""The pages through streamlit.testing.v1.AppTest (headless, in-process)."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.data.mnist import ENV_VAR

APP = str(Path(__file__).resolve().parent.parent / "streamlit_app.py")
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(autouse=True)
def _navigation_pages_only(monkeypatch):
    """Run pages through st.navigation from the first pass, as a warmed-up real server does.

    AppTest rebuilds its PagesManager before every run and, seeing a `pages/` folder, starts each run in
    the legacy multipage mode. The pages then rerun through the entrypoint (ui.streamlit_workarounds), but that first
    pass consumes a button click, so clicks would be lost. A real server leaves the legacy mode for good
    at the first st.navigation call.
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
    assert at.sidebar.text_input(key="adadelta.learning_rate").value == "3"
    assert not _button(at, "Train").disabled
    assert _button(at, "Stop").disabled
    assert not at.error


def test_the_sidebar_is_drawn_from_the_settings_field_table():
    from mnist_core.settings import FIELDS, OPTIMIZERS, RUN_FIELDS
    from ui.handwriting import WEIGHT
    from ui.query_settings import PARAMS

    at = _app()
    shown = {w.label: w for w in [*at.sidebar.text_input, *at.sidebar.number_input, *at.sidebar.toggle]}
    for field in (*OPTIMIZERS["adadelta"].fields, *RUN_FIELDS):
        spec = FIELDS[field]
        widget = shown[spec.short or spec.label]
        if spec.toggle:  # a switch's tooltip also states the digits' weight in an epoch
            assert widget in at.sidebar.toggle and widget.help == f"{spec.about} {WEIGHT} {spec.applies.note}", field
            continue
        assert (widget.help or "") == spec.help, field
        assert (widget in at.sidebar.number_input) == spec.integer, field
    assert len(shown) == len(OPTIMIZERS["adadelta"].fields) + len(RUN_FIELDS)
    assert set(PARAMS.values()) == {"optimizer", "preset", *FIELDS}  # every field has its link parameter


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
    snap = job.state.view()
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


def _draw_page() -> AppTest:
    at = _app()
    at.switch_page("pages/draw.py").run()
    assert not at.exception, at.exception
    return at


def test_draw_page_renders_before_any_training_and_prompts():
    at = _draw_page()
    assert at.title[0].value == "Draw a digit"
    assert any("Draw a digit on the canvas" in i.value for i in at.info)
    assert at.segmented_control(key="draw_source").value == "Draw"
    assert at.sidebar.selectbox(key="optimizer").value == "adadelta"  # the shared sidebar is there


def test_random_test_digit_is_answered_by_the_pretrained_network(mnist):
    from mnist_core.data.preprocess import preprocess
    from mnist_core.snapshots.pretrained import load_pretrained

    at = _draw_page()
    at.segmented_control(key="draw_source").set_value("Random test digit").run()
    assert not at.exception, at.exception
    assert any("The bundled pretrained network" in m.value for m in at.markdown)
    index = at.session_state["draw_test_index"]
    final = preprocess(mnist.test.x[index]).final
    expected = load_pretrained().model.predict(final, k=4, seed=0).labels[0]
    big = next(h.proto.body for h in at.get("html") if "confident" in h.proto.body)
    assert f">{expected}</span>" in big
    assert any("The 4 crops and their votes" in h.proto.body for h in at.get("html"))  # inline with the stages
    assert any(m.value == f"True label: **{mnist.test.y[index]}**" for m in at.markdown)


def test_a_bad_upload_shows_an_error_and_the_page_keeps_working():
    at = _draw_page()
    at.segmented_control(key="draw_source").set_value("Upload an image").run()
    at.file_uploader[0].upload("digit.png", b"this is a text file, not a PNG", "image/png").run()
    assert not at.exception, at.exception
    assert any("digit.png" in e.value and "could not be used" in e.value for e in at.error)
    at.segmented_control(key="draw_source").set_value("Random test digit").run()
    assert not at.exception and any("confident" in h.proto.body for h in at.get("html"))


def _png(array) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("pixels", "message"),
    [
        ("blank", "This image has no ink"),
        ("dot", "too little ink to be a digit"),
    ],
)
def test_uploads_without_a_digit_are_explained(pixels, message):
    import numpy as np

    image = np.zeros((200, 200), np.uint8)
    if pixels == "dot":
        image[100:102, 100:102] = 255
    at = _draw_page()
    at.segmented_control(key="draw_source").set_value("Upload an image").run()
    at.file_uploader[0].upload(f"{pixels}.png", _png(image), "image/png").run()
    assert not at.exception, at.exception
    assert any(message in w.value for w in at.warning)


def test_a_bad_upload_leaves_a_running_training_job_alone():
    at = _app()
    at.number_input(key="epochs").set_value(1).run()
    _button(at, "Train").click().run()
    job = at.session_state["job"]
    at.switch_page("pages/draw.py").run()
    at.segmented_control(key="draw_source").set_value("Upload an image").run()
    at.file_uploader[0].upload("broken.png", b"\\x89PNG\\r\\n\\x1a\\n" + b"\\x00" * 64, "image/png").run()
    assert not at.exception, at.exception
    assert any("could not be used" in e.value for e in at.error)
    assert job is at.session_state["job"]
    assert job.join(timeout=300)
    assert job.state.view().status == "finished"


def _compare_page() -> AppTest:
    at = _app()
    at.switch_page("pages/compare.py").run()
    assert not at.exception, at.exception
    return at


def test_compare_page_renders_the_default_line_up():
    at = _compare_page()
    assert at.title[0].value == "Compare optimizers"
    table = at.dataframe[0].value
    assert list(table["name"]) == ["SGD", "SGD + momentum", "Nesterov", "Adagrad", "RMSprop", "Adam", "Adadelta"]
    assert table.loc[6, "learning_rate"] == 3.0
    assert not at.error


def test_an_invalid_row_is_flagged_and_a_short_race_finishes_with_results():
    from mnist_core.training.contestants import COLUMNS

    at = _compare_page()
    rows = [
        {**dict.fromkeys(COLUMNS), "name": "Adam", "optimizer": "adam", "learning_rate": 0.001, "beta_1": 0.9,
         "beta_2": 0.999, "epsilon": 1e-7, "batch_size": 128, "weight_decay": 0.001},
        {**dict.fromkeys(COLUMNS), "name": "Broken SGD", "optimizer": "sgd", "learning_rate": -1.0,
         "batch_size": 128, "weight_decay": 0.001},
    ]  # fmt: skip
    at.session_state["compare_rows"] = rows
    at.session_state["compare_version"] = 99
    at.run()
    assert any("Row 1 (Broken SGD) will not race" in e.value and "Learning rate" in e.value for e in at.error)
    at.number_input[0].set_value(2_000).run()  # budget
    at.number_input[1].set_value(1_000).run()  # evaluate every
    next(b for b in at.button if b.label == "Start race").click().run()
    race = at.session_state["race"]
    assert [c.name for c in race.contestants] == ["Adam"]  # the invalid row did not start
    assert race.join(timeout=300)
    at.run()
    assert not at.exception, at.exception
    results = at.dataframe[-1].value
    assert list(results["name"]) == ["Adam"] and results.loc[0, "status"] == "finished"
    assert any("Adam" in m.value for m in at.markdown)


def test_an_empty_table_says_so():
    at = _compare_page()
    at.session_state["compare_rows"] = []
    at.session_state["compare_version"] = 7
    at.run()
    assert any("The table is empty" in i.value for i in at.info)
    assert next(b for b in at.button if b.label == "Start race").disabled


def _inside_page(tab: str = "Architecture") -> AppTest:
    at = _app()
    at.switch_page("pages/inside.py").run()
    at.session_state["inside_tab"] = tab
    at.run()
    assert not at.exception, at.exception
    return at


SMALL_NET = [
    {"type": "conv", "filters": 4, "kernel": 3, "stride": 2, "padding": "valid", "activation": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


def test_inside_page_shows_the_pretrained_network_in_every_tab_without_training():
    at = _inside_page()
    assert at.title[0].value == "Inside the network"
    assert any("bundled pretrained network" in m.value for m in at.markdown)
    summary = at.dataframe[0].value
    assert list(summary["parameters"])[-1] == 2_570 and summary["parameters"].sum() == 5_994
    assert any(m.value == "**Total: 5,994 parameters.**" for m in at.markdown)
    at.session_state["inside_tab"] = "Filters"
    at.run()
    assert [m.value.split(":")[0] for m in at.markdown if m.value.startswith("**conv")] == [
        "**conv2d**",
        "**conv2d_1**",
    ]
    at.session_state["inside_tab"] = "Activations"
    at.run()
    assert any("test image #0 (a 7)" in m.value and "reads a **7**" in m.value for m in at.markdown)
    layers = [m.value for m in at.markdown if "): min " in m.value]
    assert len(layers) == 7 and layers[-1].startswith("**dense")  # the crop and the six layers
    at.session_state["inside_tab"] = "Errors"
    at.run()
    assert any("of the 10,000 test digits read right with 4 crops" in m.value for m in at.markdown)
    at.session_state["inside_tab"] = "Crop averaging"
    at.run()
    assert any(m.value.startswith("Centre crop alone: **99.") for m in at.markdown)
    assert len(at.dataframe[0].value) == 10  # two methods at k = 1, 2, 4, 8, 16
    assert not at.exception and not at.error


def test_an_invalid_layer_table_lists_its_rows_and_keeps_the_network():
    from mnist_core.model.layer_table import table_rows

    at = _inside_page()
    rows = table_rows(SMALL_NET)
    rows[0]["padding"] = "sideways"
    rows.insert(1, {**rows[1], "type": "maxpool", "size": 30, "stride": 1})
    rows[2]["units"] = -1  # the flatten row ignores it
    rows[3]["units"] = 9
    at.session_state["editor_rows"] = rows
    at.session_state["editor_version"] = 50
    at.run()
    assert not at.exception, at.exception
    message = next(e.value for e in at.error if "cannot be built" in e.value)
    assert "Row 1: conv padding must be one of" in message
    assert "the current network stays" in message
    assert _button(at, "Apply and reset training").disabled
    rows[0]["padding"] = "valid"
    at.session_state["editor_rows"] = rows
    at.run()
    message = next(e.value for e in at.error if "cannot be built" in e.value)
    assert "Row 2: 30x30 max pooling on a 11x11 input" in message
    assert at.session_state["preset"] == "convnetjs"


def test_an_applied_layer_table_becomes_the_train_and_compare_pages_network():
    from mnist_core.model.layer_table import table_rows

    at = _inside_page()
    at.session_state["editor_rows"] = table_rows(SMALL_NET)
    at.session_state["editor_version"] = 60
    at.run()
    assert not at.error
    assert any(m.value == "**Total: 4,890 parameters.**" for m in at.markdown)  # the preview
    _button(at, "Apply and reset training").click().run()
    assert not at.exception, at.exception
    assert any("Applied" in s.value for s in at.success)
    assert at.session_state["preset"] == "custom"  # the sidebar's Network
    at.switch_page("pages/train.py").run()
    _button(at, "Train").click().run()
    job = at.session_state["job"]
    assert job.layers == SMALL_NET
    _button(at, "Reset").click().run()
    at.switch_page("pages/compare.py").run()
    assert any("Your network from the editor (4,890 weights)" in c.value for c in [*at.caption, *at.markdown])


def _linked_app(**params: str) -> AppTest:
    """The app opened from a link with these query parameters."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()
    assert not at.exception, at.exception
    return at


def _toasts(at: AppTest) -> list[str]:
    """The toasts' text with the Markdown escapes taken out."""
    import re

    return [re.sub(r"\\(.)", r"\1", t.value) for t in at.toast]


def test_a_link_sets_up_the_sidebar():
    at = _linked_app(opt="sgd", lr="0.05", epochs="3", k="8", decay="0", net="large", seed="42")
    assert at.sidebar.selectbox(key="optimizer").value == "sgd"
    assert at.sidebar.text_input(key="sgd.learning_rate").value == "0.05"
    assert at.number_input(key="epochs").value == 3
    assert at.number_input(key="crops").value == 8
    assert at.number_input(key="seed").value == 42
    assert at.sidebar.text_input(key="weight_decay").value == "0"
    assert at.sidebar.selectbox(key="preset").value == "large"
    assert at.session_state["settings"].optimizer.params == {"learning_rate": 0.05}
    assert not at.toast and not at.error
    assert at.query_params == {
        "opt": "sgd",
        "lr": "0.05",
        "epochs": "3",
        "k": "8",
        "decay": "0",
        "net": "large",
        "seed": "42",
    }


def test_garbage_in_a_link_falls_back_to_defaults_with_one_notice():
    at = _linked_app(seed="banana", lr="inf", batch="-3", opt="lion", net="custom", ema="x" * 10_000, ref="mail")
    [notice] = _toasts(at)
    assert "Ignored seed=banana from the link: Seed: 'banana' is not a number. Using 0." in notice
    assert "Ignored opt=lion from the link" in notice and "Using Adadelta." in notice
    assert "Ignored lr=inf" in notice and "Ignored batch=-3" in notice and "Ignored net=custom" in notice
    assert "Ignored ema=xxxxxxxxxxxxxxxxxxxx… from the link" in notice and len(notice) < 2_000
    assert at.sidebar.selectbox(key="optimizer").value == "adadelta"
    assert at.sidebar.text_input(key="adadelta.learning_rate").value == "3"
    assert at.number_input(key="seed").value == 0
    assert at.sidebar.selectbox(key="preset").value == "convnetjs"
    assert not at.error and not _button(at, "Train").disabled  # the page works, with the defaults
    assert at.query_params == {"ref": "mail"}  # the garbage is gone; a parameter of someone else's stays
    at.number_input(key="epochs").set_value(2).run()
    assert not at.toast  # shown once, not on every rerun
    assert at.query_params == {"ref": "mail", "epochs": "2"}


def test_changing_the_sidebar_updates_the_link_with_non_defaults_only():
    at = _app()
    assert at.query_params == {}
    at.sidebar.selectbox(key="optimizer").set_value("adam").run()
    assert at.query_params == {"opt": "adam"}
    at.sidebar.text_input(key="adam.learning_rate").set_value("0.002").run()
    at.number_input(key="seed").set_value(7).run()
    assert at.query_params == {"opt": "adam", "lr": "0.002", "seed": "7"}
    at.sidebar.text_input(key="adam.learning_rate").set_value("fast").run()  # invalid: the last valid set-up stays
    assert at.query_params == {"opt": "adam", "lr": "0.002", "seed": "7"}
    at.sidebar.text_input(key="adam.learning_rate").set_value("0.001").run()  # Adam's default
    at.number_input(key="seed").set_value(0).run()
    assert at.query_params == {"opt": "adam"}
    assert not at.toast


def test_a_linked_set_up_survives_switching_pages():
    at = _linked_app(opt="momentum", momentum="0.5", epochs="2")
    at.switch_page("pages/draw.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Draw a digit"
    assert at.sidebar.text_input(key="momentum.momentum").value == "0.5"
    assert at.query_params == {"opt": "momentum", "momentum": "0.5", "epochs": "2"}
    at.switch_page("pages/train.py").run()
    assert at.number_input(key="epochs").value == 2 and not at.toast


def test_a_bad_link_to_the_draw_page_explains_itself_and_the_page_works():
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["seed"] = "banana"
    at.switch_page("pages/draw.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Draw a digit"
    assert any("Ignored seed=banana" in t for t in _toasts(at))
    assert at.query_params == {}


def test_a_network_from_the_editor_is_marked_in_the_link():
    at = _app()
    at.session_state["custom_layers"] = SMALL_NET  # as "Apply and reset training" does
    at.run()
    at.sidebar.selectbox(key="preset").set_value("custom").run()
    assert not at.exception, at.exception
    assert at.query_params == {"net": "custom"}  # whoever opens this link is told the network stayed behind


def test_inside_page_shows_the_sessions_network_while_it_trains():
    at = _app()
    at.number_input(key="epochs").set_value(1).run()
    _button(at, "Train").click().run()
    job = at.session_state["job"]
    from tests.conftest import wait_until

    wait_until(lambda: job.state.view().weights_version > 1, timeout=120)
    at.switch_page("pages/inside.py").run()
    at.session_state["inside_tab"] = "Filters"
    at.run()
    assert not at.exception, at.exception
    assert any("**Your network** (training now" in m.value for m in at.markdown)
    assert any("Redrawn every 2 s while your network trains" in c.value for c in at.caption)
    at.session_state["inside_tab"] = "Errors"
    at.run()
    assert any(b.label == "Evaluate the latest weights" for b in at.button)  # no full evaluation mid-training
    _button(at, "Evaluate the latest weights").click().run()
    assert any("of the 10,000 test digits read right" in m.value for m in at.markdown)
    job.stop()
    assert job.join(timeout=120)


def test_the_train_page_promises_what_the_default_run_gives_at_this_servers_speed():
    from mnist_core.runtime.speed import server_speed
    from mnist_core.training.promise import measured_default_run

    kept = server_speed().current()
    server_speed().record(4321.0, "a test")
    try:
        at = _app()
    finally:
        server_speed().__init__()  # as the process had it: unmeasured, or what the warm-up measured
        server_speed().record(*kept)
    shown = " ".join(i.value for i in at.info)
    run = measured_default_run()
    assert f"after about **{run.median_examples:,} examples**" in shown
    assert "At this server's measured speed (4,321 examples/s) that is about" in shown
    assert f"**{round(run.median_examples / 4321)} s** of training" in shown
