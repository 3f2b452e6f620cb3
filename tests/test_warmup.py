"""The background warm-up: TensorFlow imported and one short training run, once per process, reported."""

import threading

import keras
import pytest

from mnist_core.training import warmup

pytestmark = pytest.mark.timeout(300)


def test_exercise_training_leaves_a_traced_default_model_for_the_first_job(monkeypatch) -> None:
    from mnist_core.model.architecture import PRESETS
    from mnist_core.settings import TrainSettings
    from mnist_core.training import model_pool as training_models

    pool = training_models.ModelPool(2)
    monkeypatch.setattr(training_models, "_pool", pool)
    warmup.exercise_training()
    assert len(pool) == 1  # nothing else of it is kept
    settings = TrainSettings()  # a default job, whatever its seed and run length
    held = pool.take(PRESETS[settings.preset], settings.with_(seed=5, epochs=1))
    assert held is not None and held.model.traced
    # it trained: 2 batches, then one to trace the default batch size and SPEED_BATCHES timed ones
    assert held.model.optimizer.iterations.numpy() == 2 + 1 + warmup.SPEED_BATCHES


def test_the_warm_up_measures_the_servers_training_speed(monkeypatch) -> None:
    from mnist_core.runtime import speed
    from mnist_core.training import model_pool as training_models

    monkeypatch.setattr(training_models, "_pool", training_models.ModelPool(1))
    monkeypatch.setattr(speed, "_SPEED", speed.ServerSpeed())
    assert speed.server_speed().current() == (None, "")
    warmup.exercise_training()
    examples_per_second, source = speed.server_speed().current()
    assert source == "the warm-up" and 100 < examples_per_second < 1_000_000


def _start(monkeypatch, exercise) -> tuple[list, bool, bool]:
    """start_tensorflow_import in a fresh state, twice; what on_ready got and what each call returned."""
    monkeypatch.setattr(warmup, "_started", threading.Event())
    monkeypatch.setattr(warmup, "exercise_training", exercise)
    reports = []
    first = warmup.start_tensorflow_import(on_ready=lambda seconds, failure: reports.append((seconds, failure)))
    second = warmup.start_tensorflow_import(on_ready=lambda *a: reports.append("second"))
    for thread in threading.enumerate():
        if thread.name == "tensorflow-import":
            thread.join(timeout=120)
            assert not thread.is_alive()
    return reports, first, second


def test_it_runs_once_and_reports_when_ready(monkeypatch) -> None:
    runs = []
    reports, first, second = _start(monkeypatch, lambda: runs.append(keras.__version__))
    assert (first, second) == (True, False)
    assert len(runs) == 1
    assert len(reports) == 1 and reports[0][1] is None and reports[0][0] >= 0


def test_a_failed_warm_up_is_reported_and_still_counts_as_ready(monkeypatch) -> None:
    def broken() -> None:
        raise RuntimeError("no kernels")

    reports, _, _ = _start(monkeypatch, broken)
    assert len(reports) == 1
    assert isinstance(reports[0][1], RuntimeError) and "no kernels" in str(reports[0][1])
