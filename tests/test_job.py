"""The training job on small slices of real MNIST: lifecycle, live changes, divergence."""

import time

import numpy as np
import pytest

from mnist_core.settings import TrainSettings, default_optimizer
from mnist_core.training.job import TrainingJob
from mnist_core.training.model_pool import ModelPool
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(300)


def _job(data, pool=None, **changes):
    settings = TrainSettings(batch_size=50, epochs=2, seed=0).with_(**changes)
    job = TrainingJob(settings, data, pool=pool)
    job.start()
    return job


def test_a_short_job_finishes_with_epoch_metrics(tiny):
    job = _job(tiny)
    assert job.join(timeout=200)
    snap = job.state.view()
    assert snap.status == "finished", snap.message
    assert snap.examples_seen == 2 * len(tiny.train)
    assert [r.epoch for r in snap.history] == [1, 2]
    last = snap.history[-1]
    assert 0.3 < last.test_accuracy_crops <= 1 and 0 < last.validation_loss < 3
    assert snap.loss is not None and snap.l2_loss > 0 and snap.ms_step > 0 and snap.ms_forward > 0
    assert snap.examples_per_second > 0 and snap.progress and snap.recent
    assert all(len(p.classes) == 3 and p.probabilities[0] >= p.probabilities[2] for p in snap.recent)
    assert snap.weights_version > 1


def test_the_speed_shown_at_the_end_is_the_runs_own(tiny):
    """The last push comes at an epoch's end: its clock must not count that epoch's seconds a second time."""
    job = _job(tiny, epochs=3)
    assert job.join(timeout=200)
    snap = job.state.view()
    last = snap.history[-1]
    assert snap.train_seconds == pytest.approx(last.train_seconds, rel=0.01)
    assert snap.examples_per_second == pytest.approx(snap.examples_seen / last.train_seconds, rel=0.01)


def test_pause_resume_stop(tiny):
    job = _job(tiny, epochs=100)
    wait_until(lambda: job.state.view().examples_seen > 200)
    job.pause()
    time.sleep(0.5)  # let the batch in flight finish
    seen = job.state.view().examples_seen
    time.sleep(1.0)
    snap = job.state.view()
    assert snap.status == "paused" and snap.examples_seen == seen
    job.resume()
    wait_until(lambda: job.state.view().examples_seen > seen + 200)
    assert job.state.view().status == "running"
    job.stop()
    assert job.join(timeout=60)
    assert job.state.view().status == "stopped"


def test_stop_while_paused_ends_the_thread(tiny):
    job = _job(tiny, epochs=100)
    wait_until(lambda: job.state.view().examples_seen > 0)
    job.pause()
    job.stop()
    assert job.join(timeout=60)
    assert job.state.view().status == "stopped"


def _weight_change(job, seconds=1.0):
    """How far the published weights move over `seconds` of training."""
    v0, before = job.state.weights()
    wait_until(lambda: job.state.weights()[0] > v0 + 1)
    time.sleep(seconds)
    _, after = job.state.weights()
    return max(float(np.abs(a - b).max()) for a, b in zip(before, after))


def test_live_learning_rate_change_takes_effect(tiny):
    sgd = default_optimizer("sgd")
    frozen = sgd.params | {"learning_rate": 1e-9}
    pool = ModelPool(1)  # the job hands its trained model back there when it ends
    job = _job(tiny, pool, optimizer=type(sgd)("sgd", frozen), epochs=200)
    wait_until(lambda: job.state.view().examples_seen > 100)
    assert _weight_change(job) < 1e-5
    report = job.change(job.settings.with_(optimizer=type(sgd)("sgd", frozen | {"learning_rate": 0.1})))
    assert report.applied == ["learning_rate"] and not report.needs_reset
    assert _weight_change(job) > 1e-3
    job.stop()
    job.join(60)
    assert float(pool.take(job.layers, job.settings).model.optimizer.learning_rate) == pytest.approx(0.1)


def test_live_momentum_and_per_epoch_changes(tiny):
    pool = ModelPool(1)
    job = _job(tiny, pool, optimizer=default_optimizer("momentum"), epochs=3)
    settings = job.settings
    new_optimizer = type(settings.optimizer)("momentum", settings.optimizer.params | {"momentum": 0.5})
    report = job.change(settings.with_(optimizer=new_optimizer, batch_size=100, weight_decay=0.01))
    assert report.applied == ["batch_size", "momentum", "weight_decay"]
    assert job.join(200)
    assert job.state.view().status == "finished"
    trained = pool.take(job.layers, job.settings).model
    assert float(trained.optimizer.momentum_variable.numpy()) == pytest.approx(0.5)


def test_changes_that_need_a_reset_are_reported(tiny):
    job = TrainingJob(TrainSettings(), tiny)
    report = job.change(TrainSettings(optimizer=default_optimizer("adam"), seed=4, averaging=0.0))
    assert report.needs_reset == ["optimizer", "seed", "averaging"]
    rho = TrainSettings().optimizer.params | {"rho": 0.9}
    assert job.change(TrainSettings(optimizer=type(TrainSettings().optimizer)("adadelta", rho))).needs_reset == ["rho"]


@pytest.mark.parametrize("name", ["sgd", "momentum"])
def test_a_huge_learning_rate_diverges_and_restores_good_weights(tiny, name):
    optimizer = default_optimizer(name)
    # A rate of 100 diverges whatever crops the first batches draw; 10 does on some draws only.
    job = _job(tiny, optimizer=type(optimizer)(name, optimizer.params | {"learning_rate": 100.0}), epochs=20)
    assert job.join(timeout=200)
    snap = job.state.view()
    assert snap.status == "diverged"
    assert "learning rate" in snap.message and "too high" in snap.message
    assert all(np.isfinite(w).all() for w in job.model.get_weights())
    assert all(np.isfinite(w).all() for w in job.state.weights()[1])


def test_inference_copy_and_download_match_the_trained_model(tiny, tmp_path):
    import keras

    from mnist_core.inspection.inference import InferenceModel
    from mnist_core.model.predict import CropPredictor

    job = _job(tiny, epochs=1)
    assert job.join(200)
    copy = InferenceModel.for_layers(job.layers, job.settings.seed)
    assert copy.sync(job.state) == job.state.view().weights_version
    images = tiny.test.x[:16]
    expected = CropPredictor(job.model).predict(images, k=4, seed=3).probabilities
    np.testing.assert_allclose(copy.predict(images, k=4, seed=3).probabilities, expected, rtol=1e-5, atol=1e-6)

    path = tmp_path / "m.keras"
    path.write_bytes(copy.keras_bytes())
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(CropPredictor(loaded).predict(images, k=4, seed=3).probabilities, expected, rtol=1e-5)


def test_published_weights_are_immutable_copies_refreshed_while_training(tiny):
    from mnist_core.inspection.inference import InferenceModel

    job = _job(tiny, epochs=30)
    wait_until(lambda: job.state.weights()[0] > 1)
    version, held = job.state.weights()
    frozen = [w.copy() for w in held]
    copy = InferenceModel.for_layers(job.layers, job.settings.seed)
    versions = set()
    for _ in range(15):
        versions.add(copy.sync(job.state))
        time.sleep(0.2)
    job.stop()
    job.join(60)
    assert all(np.array_equal(a, b) for a, b in zip(held, frozen))  # training never wrote into a published copy
    assert len(versions) >= 3 and max(versions) > version  # refreshed as training goes on


def test_a_job_continued_from_weights_starts_where_the_first_left_off(tiny):
    from mnist_core.inspection.inference import InferenceModel
    from mnist_core.model.predict import accuracy

    first = _job(tiny, epochs=2, averaging=0.0)  # no weight average: it lags far behind on so few batches
    assert first.join(200)
    before = first.state.view()
    assert before.status == "finished", before.message
    weights = first.state.weights()[1]

    job = TrainingJob(first.settings.with_(epochs=1), tiny, first.layers, initial_weights=weights, history=before)
    job.start()
    job.pause()  # before its first batch: the weights it publishes first are the ones it starts from
    wait_until(lambda: job.state.weights()[0] > 0)
    start = job.state.view()
    assert start.examples_seen == before.examples_seen and start.epoch == 2 and start.epochs == 3
    assert start.history == before.history and start.progress == before.progress
    assert all(np.array_equal(a, b) for a, b in zip(job.state.weights()[1], weights))
    copy = InferenceModel.for_layers(job.layers, job.settings.seed)
    copy.sync(job.state)
    started_at = accuracy(copy.predict(tiny.test.x, 4, seed=0).probabilities, tiny.test.y)
    assert started_at == pytest.approx(before.history[-1].test_accuracy_crops, abs=0.03) and started_at > 0.6
    job.resume()
    assert job.join(200)

    after = job.state.view()
    assert after.status == "finished", after.message
    assert "continuing a run of 4,000 examples" in after.message
    assert [r.epoch for r in after.history] == [1, 2, 3]
    assert after.history[:2] == before.history
    assert after.examples_seen == after.history[-1].examples_seen == 3 * len(tiny.train)
    assert after.train_seconds > before.train_seconds and after.history[-1].train_seconds > before.train_seconds
    new = after.progress[len(before.progress) :]
    assert after.progress[: len(before.progress)] == before.progress and new
    assert all(p.examples_seen > before.examples_seen and p.epoch > 2 for p in new)
    assert new[0].train_accuracy > 0.5  # smoothed over the first batches: trained weights, not chance (0.1)
    assert after.history[-1].test_accuracy_crops >= before.history[-1].test_accuracy_crops - 0.05


def test_a_continued_job_keeps_its_progress_bounded(tiny):
    from mnist_core.training.run_state import MAX_PROGRESS_POINTS, ProgressPoint, RunView

    points = tuple(ProgressPoint(i, i / 2000, 1.0, 0.0, 0.5, i / 100) for i in range(2500))
    job = TrainingJob(TrainSettings(epochs=1), tiny, history=RunView(examples_seen=2500, progress=points))
    progress = job.state.view().progress
    assert len(progress) <= MAX_PROGRESS_POINTS and progress[0] == points[0]
    for i in range(5000):
        job.state.add_progress(ProgressPoint(2500 + i, 1.0, 1.0, 0.0, 0.5, 25.0))
    assert len(job.state.view().progress) <= MAX_PROGRESS_POINTS


def test_weights_of_another_network_fail_the_job_with_a_message(tiny):
    from mnist_core.model.architecture import LARGE, build_model

    job = TrainingJob(TrainSettings(epochs=1), tiny, initial_weights=build_model(LARGE, 0).get_weights())
    job.start()
    assert job.join(120)
    snap = job.state.view()
    assert snap.status == "error" and "Training failed" in snap.message
