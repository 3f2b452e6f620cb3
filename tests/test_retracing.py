"""No TensorFlow retracing warning from a race of 12 and 20 runs in a row in one process (issue 31): each network and
optimizer kind traces its train step once, and the runs after reuse it."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest
from tensorflow.python.eager.polymorphic_function import polymorphic_function

from mnist_core.model.architecture import PRESETS
from mnist_core.settings import TrainSettings, default_optimizer
from mnist_core.training import model_pool
from mnist_core.training.contestants import DEFAULT_LINEUP, default_contestants
from mnist_core.training.job import TrainingJob
from mnist_core.training.race import Race
from tests.conftest import small

pytestmark = pytest.mark.timeout(600)


class _Retracing(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "retracing" in record.getMessage():
            self.messages.append(record.getMessage()[:200])


def _tracings(model) -> int:
    """How often the model's training loop has been traced."""
    return model.batch_trainer().experimental_get_tracing_count()


@pytest.fixture
def retracing(monkeypatch):
    """The retracing warnings TensorFlow logs during the test, counted from a clean slate."""
    # TensorFlow warns at most twice per function and process, with the history of every call before:
    # a detector of its own keeps earlier tests from using up or filling that history.
    detectors = polymorphic_function._FrequentTracingDetectorManager()
    monkeypatch.setattr(polymorphic_function, "_frequent_tracing_detector_manager", detectors)
    monkeypatch.setattr(model_pool, "_pool", None)  # models kept by earlier tests would trace nothing
    handler = _Retracing()
    logger = logging.getLogger("tensorflow")
    logger.addHandler(handler)
    try:
        yield handler.messages
    finally:
        logger.removeHandler(handler)
        assert detectors._detectors, "TensorFlow no longer counts calls through this detector: the test saw nothing"


def test_a_race_of_12_and_20_runs_in_a_row_log_no_retracing(mnist, retracing):
    data = small(mnist, 1000, 200)
    twelve = [replace(c, name=f"{c.name} {i}") for i, c in enumerate((default_contestants() * 2)[:12])]
    # Few batch groups per contestant, so their first calls into the training loop would follow each other
    # closely; each contestant's second chunk ends on a partial batch.
    race = Race(twelve, data, PRESETS["convnetjs"], budget_examples=1000, eval_every_examples=500)
    race.start()
    assert race.join(timeout=300)
    assert race.view().status == "finished", race.view().message
    assert retracing == [], "the race"
    models = {id(run.model): run.model for run in race.runners}.values()
    assert len(models) == len(DEFAULT_LINEUP)  # one model per optimizer kind
    assert [_tracings(model) for model in models] == [1] * len(models)  # the partial batch included

    jobs = small(mnist, 512, 200)
    for i in range(20):
        optimizer = default_optimizer("adam") if i % 2 else TrainSettings().optimizer
        job = TrainingJob(TrainSettings(epochs=1, seed=i, optimizer=optimizer), jobs)
        job.start()
        assert job.join(timeout=120)
        assert job.state.view().status == "finished", job.state.view().message
    assert retracing == [], "the jobs"
