"""Teaching features through AppTest: Step on the Train page, layer gradients, lesson links."""

import pytest

from tests.conftest import wait_until
from tests.test_app import _app, _button, _metric, _navigation_pages_only  # noqa: F401 - the fixture is autouse

pytestmark = pytest.mark.timeout(600)


def _subheaders(at) -> list[str]:
    return [s.value for s in at.subheader]


def _stepped(at, number: int) -> None:
    """Rerun (AppTest fires no run_every fragments) until the page shows step `number`."""
    job = at.session_state["job"]
    wait_until(lambda: job.state.steps_taken >= number, timeout=180)
    at.run()
    assert not at.exception, at.exception


def test_step_starts_a_paused_run_steps_one_batch_at_a_time_and_resume_goes_on():
    at = _app()
    _button(at, "Step").click().run()
    assert not at.exception, at.exception
    _stepped(at, 1)
    job = at.session_state["job"]
    assert job.view().status == "paused" and job.view().examples_seen == 128
    assert "Step 1: one batch of 128 examples" in _subheaders(at)
    assert _metric(at, "Examples seen") == "128"
    assert _metric(at, "Optimizer updates") == "1"
    assert _button(at, "Resume") is not None and not _button(at, "Step").disabled
    [table] = [d for d in at.dataframe if "update / weights" in d.value.columns]
    assert list(table.value["layer"]) == [u.name for u in job.view().step.layers] and len(table.value) == 3
    _button(at, "Step").click().run()
    assert not at.exception, at.exception
    _stepped(at, 2)
    assert "Step 2: one batch of 128 examples" in _subheaders(at)
    assert job.view().examples_seen == 256 and _metric(at, "Optimizer updates") == "2"
    _button(at, "Resume").click().run()
    wait_until(lambda: job.view().examples_seen > 1000)
    at.run()
    assert job.view().status == "running" and _button(at, "Step").disabled  # Pause first
    assert not any(s.startswith("Step ") for s in _subheaders(at))  # the report shows while paused
    _button(at, "Stop").click().run()
    assert job.join(timeout=120)


def test_step_on_a_diverged_run_explains_itself():
    at = _app()
    at.sidebar.selectbox(key="optimizer").set_value("sgd").run()
    at.sidebar.text_input(key="sgd.learning_rate").set_value("90").run()
    _button(at, "Train").click().run()
    job = at.session_state["job"]
    assert job.join(timeout=300)
    at.run()
    assert job.view().status == "diverged"
    _button(at, "Step").click().run()
    assert not at.exception, at.exception
    assert any("has ended (diverged)" in i.value and "Reset" in i.value for i in at.info)


def _lesson_app(**params: str):
    from streamlit.testing.v1 import AppTest

    from tests.test_app import APP

    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(params)
    at.run()
    assert not at.exception, at.exception
    return at


def _sidebar_labels(at) -> list[str]:
    widgets = [*at.sidebar.text_input, *at.sidebar.number_input, *at.sidebar.selectbox]
    return sorted(w.label for w in widgets)


def test_a_lesson_link_hides_the_named_controls_and_shows_the_task_literally():
    task = "Find the **largest** <b>rate</b> that trains"
    at = _lesson_app(opt="sgd", lr="0.5", batch="64", hide="all", allow="lr", task=task)
    assert _sidebar_labels(at) == ["Learning rate"]
    assert at.sidebar.text_input(key="sgd.learning_rate").value == "0.5"
    settings = at.session_state["settings"]
    assert settings.optimizer.name == "sgd" and settings.batch_size == 64  # hidden, fixed by the link
    assert task in [t.value for t in at.text]  # st.text: literal, no Markdown or HTML
    panel = "\n".join(m.value for m in at.sidebar.markdown)
    assert "- Optimizer: SGD (hidden)" in panel and "- Batch size: 64 (hidden)" in panel
    assert "Momentum" not in panel  # SGD has none
    assert any("You can change: learning rate." in c.value for c in at.sidebar.caption)
    at.sidebar.text_input(key="sgd.learning_rate").set_value("0.1").run()
    assert at.session_state["settings"].optimizer.params == {"learning_rate": 0.1}
    assert at.session_state["settings"].batch_size == 64  # still the lesson's on later runs
    assert at.query_params["hide"] == "all" and at.query_params["allow"] == "lr"  # kept in the URL
    at.switch_page("pages/inside.py").run()
    assert _sidebar_labels(at) == ["Learning rate"]
    assert any("fixes the network" in i.value for i in at.info)  # the layer editor is locked too


def test_a_lesson_link_locks_controls_and_explains_bad_names():
    at = _lesson_app(lock="net,opt", hide="seed,bogus")
    assert at.sidebar.selectbox(key="optimizer").disabled and at.sidebar.selectbox(key="preset").disabled
    assert not at.sidebar.text_input(key="adadelta.learning_rate").disabled
    assert "Seed" not in _sidebar_labels(at)
    notices = [t.value.replace("\\", "") for t in at.toast]
    assert any("unknown control name(s) in hide=: bogus" in n for n in notices)
    assert not _button(at, "Train").disabled


def test_a_lesson_hiding_every_control_says_so_and_trains_with_the_links_settings():
    at = _lesson_app(epochs="1", hide="all", task="x" * 10_240)
    assert _sidebar_labels(at) == []
    assert any("fixes every setting" in i.value for i in at.sidebar.info)
    assert any("10,240 characters" in t.value.replace("\\", "") for t in at.toast)
    [shown] = [t.value for t in at.text if t.value.startswith("xxx")]
    assert len(shown) == 501
    assert at.session_state["settings"].epochs == 1 and not _button(at, "Train").disabled


def test_the_teachers_page_builds_a_lesson_link():
    at = _app()
    at.sidebar.text_input(key="adadelta.learning_rate").set_value("0.5").run()
    at.switch_page("pages/teachers.py").run()
    assert not at.exception, at.exception
    at.multiselect(key="teacher_allowed").set_value(["lr", "epochs"]).run()
    at.radio(key="teacher_rest").set_value("hidden").run()
    at.text_area(key="teacher_task").set_value("Watch the loss").run()
    code = at.code[0].value  # the lesson link (the class set's follows it)
    assert code.endswith("?lr=0.5&hide=all&allow=lr%2Cepochs&task=Watch+the+loss"), code
    at.multiselect(key="teacher_allowed").set_value([]).run()
    assert any("hides every control" in w.value for w in at.warning)


def _gradient_layers(at) -> list[str]:
    return [m.value for m in at.markdown if "gradient wrt its output" in m.value]


def test_the_gradients_tab_shows_every_layer_for_a_digit_and_for_a_steps_batch():
    at = _app()
    at.switch_page("pages/inside.py").run()
    at.session_state["inside_tab"] = "Gradients"
    at.run()
    assert not at.exception, at.exception
    assert any(m.value.startswith("**How to read them.**") for m in at.markdown)
    assert any("test image #0 (a 7)" in m.value and "learning the label **7**" in m.value for m in at.markdown)
    layers = _gradient_layers(at)
    assert len(layers) == 6 and layers[-1].startswith("**dense**") and "before the softmax" in layers[-1]
    assert sum("wrt its weights from" in text for text in layers) == 3  # two convs and the dense layer
    assert at.radio(key="inside_source").value == "A test digit" and "gradient_source" not in at.session_state
    # A Step on the Train page: its batch becomes a choice here.
    at.switch_page("pages/train.py").run()
    _button(at, "Step").click().run()
    _stepped(at, 1)
    at.switch_page("pages/inside.py").run()
    at.session_state["inside_tab"] = "Gradients"
    at.run()
    at.radio(key="gradient_source").set_value(at.radio(key="gradient_source").options[1]).run()
    assert not at.exception, at.exception
    assert any("of Step 1's batch" in m.value and "the mean over 32 images" in m.value for m in at.markdown)
    assert len(_gradient_layers(at)) == 6 and not at.error
    at.session_state["job"].stop()


def test_step_while_a_race_runs_waits_for_the_slot_then_steps():
    at = _app()
    at.switch_page("pages/compare.py").run()
    at.number_input[0].set_value(50_000).run()  # budget: the race outlasts the test's first steps
    _button(at, "Start race").click().run()
    race = at.session_state["race"]
    wait_until(lambda: race.view().status == "running", timeout=180)
    at.switch_page("pages/train.py").run()
    _button(at, "Step").click().run()
    assert not at.exception, at.exception
    job = at.session_state["job"]
    if job.queue.limit == 1:  # the race holds the only slot (2 CPUs): the paused run waits in line
        assert job.view().status == "queued"
        assert any("waiting for a free training slot" in i.value for i in at.info)
        race.stop()
        assert race.join(timeout=120)
        wait_until(lambda: job.view().status == "paused" and job.view().weights_version > 0, timeout=180)
        _button(at, "Step").click().run()
    _stepped(at, 1)
    assert job.view().examples_seen == 128 and job.view().status == "paused"
    race.stop()
    job.stop()
    assert job.join(timeout=120)
