"""Step: one batch trained past the pause, through the same engine and job as a normal run (real MNIST)."""

import time

import numpy as np
import pytest

from mnist_core.model.architecture import core_of
from mnist_core.runtime.queue import JobQueue
from mnist_core.settings import OptimizerSettings, TrainSettings
from mnist_core.training.job import TrainingJob
from mnist_core.training.model_pool import ModelPool
from mnist_core.training.stepping import step_once
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(300)
BATCH = 50


def _paused_job(data, queue=None, **changes):
    """A job started paused, as the Train page's Step does before a run exists."""
    settings = TrainSettings(batch_size=BATCH, epochs=2, seed=0).with_(**changes)
    job = TrainingJob(settings, data, pool=ModelPool(0), queue=queue or JobQueue(2))
    job.pause()
    job.start()
    return job


def _iterations(job) -> int:
    return int(job.model.optimizer.iterations.numpy())


def test_one_step_trains_exactly_one_batch_and_steps_repeat(tiny):
    job = _paused_job(tiny)
    try:
        wait_until(lambda: job.state.view().weights_version > 0)
        assert job.state.view().status == "paused"
        time.sleep(0.5)
        assert job.state.view().examples_seen == 0  # paused before its first batch
        _, before = job.state.weights()
        iterations = _iterations(job)
        report, message = step_once(job.state, timeout=120)
        assert message is None and report is not None
        view = job.state.view()
        assert view.examples_seen == BATCH and report.examples_seen == BATCH and view.status == "paused"
        assert report.iterations_after == report.iterations_before + 1 == iterations + 1
        assert _iterations(job) == iterations + 1
        _, after = job.state.weights()
        assert any(not np.array_equal(a, b) for a, b in zip(after, before))  # published at once
        assert report.batch_size == BATCH and len(report.images) == len(report.labels) == len(report.before)
        np.testing.assert_array_equal(report.labels, tiny.train.y[np.random.default_rng([0, 0]).permutation(2000)][:32])
        core = core_of(job.model)
        assert [u.name for u in report.layers] == [layer.name for layer in core.layers if layer.weights]
        assert len(report.layers) == 3  # the ConvNetJS net: two convs and the dense layer
        assert all(u.update_norm > 0 and 0 < u.relative < 1 for u in report.layers)
        assert np.isfinite(report.loss_before) and np.isfinite(report.loss_after)
        # Still paused: nothing trains until the next Step.
        time.sleep(1.0)
        assert job.state.view().examples_seen == BATCH
        for n in (2, 3):
            report, message = step_once(job.state, timeout=60)
            assert message is None and report.number == n
            assert job.state.view().examples_seen == n * BATCH and _iterations(job) == iterations + n
        job.resume()
        wait_until(lambda: job.state.view().examples_seen > 10 * BATCH)
        assert job.state.view().status == "running"
    finally:
        job.stop()
        assert job.join(timeout=60)


def test_step_refuses_a_running_run_a_second_press_and_an_ended_run(tiny):
    job = _paused_job(tiny, epochs=50)
    try:
        wait_until(lambda: job.state.view().weights_version > 0)
        assert job.state.request_step() is None
        second = job.state.request_step()  # pressed again before the first step's report
        assert second is not None and "previous step" in second
        wait_until(lambda: job.state.view().step is not None)
        assert not job.state.view().step_pending
        assert job.state.view().examples_seen == BATCH  # the second press trained nothing
        job.resume()
        assert "press Pause first" in job.state.request_step()
    finally:
        job.stop()
        assert job.join(timeout=60)
    assert "has ended" in job.state.request_step()


def test_a_step_that_diverges_is_reported_and_the_good_weights_restored(tiny):
    job = _paused_job(tiny, optimizer=OptimizerSettings("sgd", {"learning_rate": 90.0}))
    try:
        wait_until(lambda: job.state.view().weights_version > 0)
        _, good = job.state.weights()
        for _ in range(20):  # a learning rate of 90 blows up within a few batches
            report, message = step_once(job.state, timeout=60)
            if message or report.diverged:
                break
        wait_until(lambda: job.state.view().final)
        view = job.state.view()
        assert view.status == "diverged" and view.step.diverged
        assert "has ended (diverged)" in job.state.request_step()
        assert all(np.isfinite(w).all() for w in job.state.weights()[1])
    finally:
        job.stop()
        job.join(timeout=60)


def test_step_while_another_run_holds_the_only_slot_says_it_waits(tiny):
    queue = JobQueue(1)
    race = queue.enqueue("mnist-live-race")  # a race holding the process's only training slot
    job = _paused_job(tiny, queue=queue)
    try:
        wait_until(lambda: job.state.view().status == "queued")
        assert "waiting for a free training slot" in job.state.request_step()
        queue.release(race)  # the race ends: the job gets the slot and stays paused
        wait_until(lambda: job.state.view().weights_version > 0)
        assert job.state.view().status == "paused"
        report, message = step_once(job.state, timeout=120)
        assert message is None and job.state.view().examples_seen == BATCH
    finally:
        job.stop()
        assert job.join(timeout=60)


def test_a_step_lets_exactly_one_wait_through_and_resume_drops_a_step_not_yet_taken():
    import threading

    from mnist_core.training.run_state import RunState

    state = RunState(epochs=1, total_examples=10)
    state.request_pause()
    assert state.request_step() is None
    assert state.wait_while_paused() is False and state.stepping  # one batch goes through at once
    passed = threading.Event()
    threading.Thread(target=lambda: (state.wait_while_paused(), passed.set()), daemon=True).start()
    assert not passed.wait(0.5)  # the next batch waits again
    state.request_resume()
    assert passed.wait(5)
    state.request_pause()
    assert "previous step" in state.request_step()  # the first step has not been reported yet
    other = RunState(epochs=1, total_examples=10)
    other.request_pause()
    assert other.request_step() is None
    other.request_resume()  # before any batch took the step
    other.request_pause()
    late = threading.Event()
    threading.Thread(target=lambda: (other.wait_while_paused(), late.set()), daemon=True).start()
    assert not late.wait(0.5)  # the dropped step does not fire at the next pause
    other.request_stop()
    assert late.wait(5)


def test_steps_then_resume_train_every_example_of_the_pass_once(tiny):
    """Step is the engine's own operation between stretches of training: after steps and a resume each example of the
    pass has trained once (2,000 examples: 3 steps of 50, then the other 37 batches)."""
    job = _paused_job(tiny, epochs=1, averaging=0.0)
    try:
        wait_until(lambda: job.state.view().weights_version > 0)
        for n in (1, 2, 3):
            report, message = step_once(job.state, timeout=120)
            assert message is None and report.number == n and report.iterations_after == n
        job.resume()
        assert job.join(timeout=120)
    finally:
        job.stop()
    view = job.state.view()
    assert view.status == "finished" and view.examples_seen == len(tiny.train) == 2000
    assert [record.examples_seen for record in view.history] == [2000]
    assert view.train_seconds > 0
