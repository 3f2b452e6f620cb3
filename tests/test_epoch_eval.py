"""Each epoch's evaluation runs beside the next epoch's training and gives what evaluating in line would give."""

import threading

import numpy as np
import pytest

from mnist_core.inspection.inference import InferenceModel
from mnist_core.model.architecture import PRESETS, build_model
from mnist_core.model.predict import CropPredictor
from mnist_core.settings import TrainSettings
from mnist_core.training import epoch_eval
from mnist_core.training.job import TrainingJob
from tests.conftest import small

pytestmark = pytest.mark.timeout(300)


def test_the_next_epoch_trains_while_an_epoch_is_evaluated(mnist, monkeypatch):
    """The first evaluation waits until the state shows the second epoch training: a job that waited for its
    evaluation before training on would never get there (and the evaluation would time out)."""
    data = small(mnist, 3000)
    job = TrainingJob(TrainSettings(batch_size=50, epochs=3, seed=0), data)
    first_epoch = len(data.train)
    overlapped = threading.Event()
    evaluate = InferenceModel.evaluate

    def evaluate_once_the_next_epoch_trains(self, measure):
        if not overlapped.is_set():
            for _ in range(1200):
                if job.state.view().examples_seen > first_epoch:
                    overlapped.set()
                    break
                threading.Event().wait(0.05)
        return evaluate(self, measure)

    monkeypatch.setattr(InferenceModel, "evaluate", evaluate_once_the_next_epoch_trains)
    job.start()
    assert job.join(timeout=240)
    snap = job.state.view()
    assert snap.status == "finished", snap.message
    assert overlapped.is_set()
    assert [r.epoch for r in snap.history] == [1, 2, 3]
    assert [r.examples_seen for r in snap.history] == [first_epoch, 2 * first_epoch, 3 * first_epoch]
    # Each record keeps its own pass's clock, taken when the pass ended, not when its evaluation did.
    assert snap.history[0].train_seconds < snap.history[1].train_seconds < snap.history[2].train_seconds


def test_records_are_those_of_each_pass_weights(mnist, monkeypatch):
    """The accuracies recorded in the background equal an in-line evaluation of each pass's weights."""
    data = small(mnist, 2000, n_test=2000)
    settings = TrainSettings(batch_size=50, epochs=3, seed=1)
    ends: list[epoch_eval.EpochEnd] = []
    submit = epoch_eval.EpochEvaluator.submit

    def keep(self, end):
        ends.append(end)
        return submit(self, end)

    monkeypatch.setattr(epoch_eval.EpochEvaluator, "submit", keep)
    job = TrainingJob(settings, data)
    job.start()
    assert job.join(timeout=240)
    history = job.state.view().history
    assert len(ends) == len(history) == 3
    model = build_model(PRESETS[settings.preset], settings.seed)
    for end, record in zip(ends, history, strict=True):
        model.set_weights(end.weights)
        expected = epoch_eval.epoch_record(CropPredictor(model), data, end, settings.seed, lambda: 0.0)
        for field in ("validation_loss", "validation_accuracy", "test_accuracy_center", "test_accuracy_crops"):
            assert getattr(record, field) == pytest.approx(getattr(expected, field), abs=1e-6), field
    # The passes' weights differ: each record measured its own pass.
    assert not np.array_equal(ends[0].weights[-1], ends[-1].weights[-1])


def test_a_failed_evaluation_ends_the_job_with_its_message(tiny, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("evaluation broke")

    monkeypatch.setattr(epoch_eval, "epoch_record", broken)
    job = TrainingJob(TrainSettings(batch_size=50, epochs=2, seed=0), tiny)
    job.start()
    assert job.join(timeout=200)
    snap = job.state.view()
    assert snap.status == "error" and "evaluation broke" in snap.message
