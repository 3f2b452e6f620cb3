"""The memory budget of one training step: estimated before anything runs, refused above the stated limit."""

from __future__ import annotations

import math

import pytest

from mnist_core.model.architecture import CONVNETJS, LARGE, MAX_ACTIVATIONS, summarize
from mnist_core.model.budget import (
    STEP_MEMORY_BUDGET_BYTES,
    check_step_memory,
    largest_batch,
    model_memory_bytes,
    step_memory_bytes,
)
from mnist_core.settings import TrainSettings

# Near the 250,000-values-per-image limit: one wide conv (the example: +3.9 GB for one step at 4096).
WIDE = [
    {"type": "conv", "filters": 420, "kernel": 3, "stride": 1, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 24, "stride": 24},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


def test_wide_is_a_valid_network_near_the_per_image_limit():
    values = sum(math.prod(r.output_shape) for r in summarize(WIDE))
    assert 0.95 * MAX_ACTIVATIONS < values <= MAX_ACTIVATIONS


def test_a_step_over_the_budget_is_refused_naming_batch_size_and_network():
    """Issue 15: batch 4096 with a network at the per-image limit took gigabytes for one step."""
    message = check_step_memory(WIDE, 4096, "the network “mine”")
    assert message is not None
    assert message.startswith("Batch size 4,096 is too large for the network “mine”")
    assert f"the limit on this server is {STEP_MEMORY_BUDGET_BYTES // 2**20:,} MB per step" in message
    assert f"at most {largest_batch(WIDE):,}" in message
    assert check_step_memory(WIDE, largest_batch(WIDE)) is None
    assert check_step_memory(WIDE, largest_batch(WIDE) + 1) is not None


@pytest.mark.parametrize("batch_size", [1, 20, 128, 512, 1024, 4096])
@pytest.mark.parametrize("layers", [CONVNETJS, LARGE], ids=["convnetjs", "large"])
def test_the_presets_stay_allowed_at_every_batch_size_the_sidebar_takes(layers, batch_size):
    assert check_step_memory(layers, batch_size) is None


def test_estimates_grow_with_batch_size_and_count_the_model():
    assert step_memory_bytes(LARGE, 256) > step_memory_bytes(LARGE, 128) > step_memory_bytes(CONVNETJS, 128)
    assert model_memory_bytes(LARGE) > model_memory_bytes(CONVNETJS) > 0


@pytest.mark.timeout(900)
def test_the_estimate_covers_a_measured_step():
    """The estimate is calibrated on RSS (tracemalloc misses TensorFlow's allocations): at least what was measured."""
    from tools.step_memory import WIDE as MEASURED
    from tools.step_memory import in_fresh_process

    assert MEASURED == WIDE
    got = in_fresh_process("step", "wide", 256)
    measured = got["first_peak"] - got["before"]
    estimate = step_memory_bytes(WIDE, 256)
    assert 0.9 * measured <= estimate <= 2 * measured, (measured / 2**20, estimate / 2**20)


def test_a_training_job_over_the_budget_ends_before_queueing_or_building(tiny):
    from mnist_core.runtime.queue import JobQueue
    from mnist_core.training.job import TrainingJob

    slots = JobQueue(1)
    job = TrainingJob(TrainSettings(batch_size=4096, epochs=1), tiny, WIDE, queue=slots)
    job.start()
    snap = job.state.view()
    assert snap.status == "error" and snap.message.startswith("Batch size 4,096 is too large")
    assert not job.alive and job.model is None
    assert slots.position(slots.enqueue("next")) == 0  # no slot was taken


def test_a_live_batch_size_change_over_the_budget_is_not_applied(tiny):
    from mnist_core.training.job import TrainingJob

    job = TrainingJob(TrainSettings(batch_size=128), tiny, WIDE)
    report = job.change(TrainSettings(batch_size=4096, epochs=9))
    assert "batch_size" not in report.applied and "epochs" in report.applied
    assert job.settings.batch_size == 128


@pytest.mark.timeout(600)
def test_the_sidebar_and_the_layer_editor_refuse_a_step_over_the_budget():
    """Reachable from the layer editor with a batch size from the sidebar or a link: the sidebar refuses it."""
    from streamlit.testing.v1 import AppTest

    from mnist_core.model.layer_table import table_rows
    from tests.test_app import APP, _button, _navigation_pages_only  # noqa: F401 - the autouse fixture

    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"batch": "4096"})
    at.run()
    at.switch_page("pages/inside.py").run()
    at.session_state["inside_tab"] = "Architecture"
    at.session_state["editor_rows"] = table_rows(WIDE)
    at.session_state["editor_version"] = 70
    at.run()
    assert not at.exception, at.exception
    assert any(w.value.startswith("With the sidebar's batch size: Batch size 4,096 is too large") for w in at.warning)
    _button(at, "Apply and reset training").click().run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.sidebar.error]
    assert any(
        e.startswith("Batch size 4,096 is too large for the network “Your network from the editor") for e in errors
    )
    assert _button(at, "Train").disabled
    at.number_input(key="batch_size").set_value(256).run()
    assert not at.sidebar.error and not _button(at, "Train").disabled
