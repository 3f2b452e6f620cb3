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
