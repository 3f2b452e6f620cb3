"""The process-wide limit on training jobs: the FIFO slots alone, then real jobs and races queued behind it."""

import logging
import threading
import time

import pytest

from mnist_core.runtime.queue import ENV_VAR, MAX_JOBS_PER_CPU, JobQueue, default_limit, get_queue, limit_from_env
from mnist_core.runtime.threads import (
    INTER_ENV,
    INTRA_ENV,
    MAX_PARTS,
    MAX_THREADS_PER_CPU,
    cgroup_cpu_quota,
    configure_tensorflow_threads,
    thread_counts,
    training_parts,
)
from mnist_core.settings import OptimizerSettings, TrainSettings, default_optimizer
from mnist_core.training.contestants import Contestant
from mnist_core.training.job import TrainingJob
from mnist_core.training.race import Race
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(300)


# --- JobQueue alone ---


def test_tickets_take_free_slots_then_wait_in_order():
    slots = JobQueue(2)
    a, b, c, d = (slots.enqueue(name) for name in "abcd")
    assert [slots.position(t) for t in (a, b, c, d)] == [0, 0, 1, 2]
    assert (slots.running_count, slots.queued_count, slots.limit) == (2, 2, 2)
    slots.release(b)
    assert [slots.position(t) for t in (a, b, c, d)] == [0, None, 0, 1]
    e = slots.enqueue("e")
    slots.release(a)
    assert [slots.position(t) for t in (c, d, e)] == [0, 0, 1]  # d was first in line, not the newcomer e


def test_release_is_idempotent():
    slots = JobQueue(1)
    a, b, c = (slots.enqueue(name) for name in "abc")
    slots.release(a)
    slots.release(a)
    assert [slots.position(t) for t in (b, c)] == [0, 1]
    assert (slots.running_count, slots.queued_count) == (1, 1)


def test_withdraw_takes_a_waiting_ticket_out_of_line_but_not_a_running_one():
    slots = JobQueue(1)
    a, b, c = (slots.enqueue(name) for name in "abc")
    assert not slots.withdraw(a) and slots.position(a) == 0
    assert slots.withdraw(b) and slots.position(b) is None and slots.position(c) == 1
    assert not slots.withdraw(b)
    slots.release(b)  # a withdrawn ticket releases as a no-op
    assert (slots.running_count, slots.queued_count) == (1, 1)


def _wait_in_thread(slots, ticket, abandon=lambda: False):
    heard, result = [], []
    thread = threading.Thread(target=lambda: result.append(slots.wait(ticket, abandon, 0.05, on_position=heard.append)))
    thread.start()
    return thread, heard, result


def test_wait_reports_each_move_up_and_returns_when_granted():
    slots = JobQueue(1)
    a, b, c = (slots.enqueue(name) for name in "abc")
    thread, heard, result = _wait_in_thread(slots, c)
    wait_until(lambda: heard == [2], timeout=10)
    slots.release(a)
    wait_until(lambda: heard == [2, 1], timeout=10)
    assert thread.is_alive()
    slots.release(b)
    thread.join(timeout=10)
    assert result == [True] and heard == [2, 1, 0] and slots.position(c) == 0


def test_an_abandoned_wait_leaves_the_line():
    slots = JobQueue(1)
    a, b, c = (slots.enqueue(name) for name in "abc")
    give_up = threading.Event()
    thread, heard, result = _wait_in_thread(slots, b, give_up.is_set)
    wait_until(lambda: heard == [1], timeout=10)
    give_up.set()
    thread.join(timeout=10)
    assert result == [False] and slots.position(b) is None and slots.position(c) == 1
    slots.release(a)
    assert slots.position(c) == 0


def test_a_withdrawn_ticket_stops_waiting_at_once():
    slots = JobQueue(1)
    slots.enqueue("a")
    b = slots.enqueue("b")
    thread, heard, result = _wait_in_thread(slots, b)
    wait_until(lambda: heard == [1], timeout=10)
    slots.withdraw(b)
    thread.join(timeout=10)
    assert result == [False]


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "1.5", "", "  "])
def test_unusable_limits_fall_back_to_the_default(raw):
    limit, note = limit_from_env({ENV_VAR: raw}, cpus=8)
    assert limit == default_limit(8) == 4
    assert (ENV_VAR in note and repr(raw) in note) if raw.strip() else note == ""
    slots = JobQueue.from_env({ENV_VAR: raw}, cpus=8)
    assert slots.limit == 4 and slots.limit_note == note


def test_a_valid_limit_is_used_and_the_default_follows_the_cpus():
    assert limit_from_env({ENV_VAR: " 3 "}, cpus=2) == (3, "")
    assert limit_from_env({}, cpus=2) == (1, "")
    assert [default_limit(n) for n in (1, 2, 3, 4, 16)] == [1, 1, 1, 2, 8]
    assert get_queue() is get_queue() and get_queue().limit >= 1
    with pytest.raises(ValueError):
        JobQueue(0)


@pytest.mark.parametrize("raw", ["99999999999999999999", "9" * 5000, "17", " 1000000 ", "\uff19\uff19"])
def test_a_limit_far_above_the_cpus_is_capped_with_a_warning(raw, caplog):
    limit, note = limit_from_env({ENV_VAR: raw}, cpus=4)
    assert MAX_JOBS_PER_CPU == 4 and limit == 16
    assert ENV_VAR in note and "at most 4 per CPU" in note and "using 16" in note and len(note) < 200
    with caplog.at_level(logging.WARNING, logger="mnist_core.runtime.queue"):
        slots = JobQueue.from_env({ENV_VAR: raw}, cpus=4)
    assert slots.limit == 16 and slots.limit_note == note and note in caplog.text
    assert limit_from_env({ENV_VAR: "16"}, cpus=4) == (16, "")  # the cap itself is fine
    assert limit_from_env({ENV_VAR: "-" + "9" * 5000}, cpus=4)[0] == default_limit(4)


# --- CPUs and TensorFlow's thread pools ---


def test_pools_are_sized_for_the_machine_and_the_jobs_that_may_run():
    # One thread per kernel; one inter-op thread per CPU, which a lone job's batch parts or several jobs fill.
    assert thread_counts(cpus=2, limit=1) == (1, 2)
    assert thread_counts(cpus=1, limit=1) == (1, 1)
    assert thread_counts(cpus=16, limit=8) == (1, 16)
    assert thread_counts(cpus=64, limit=2) == (1, 64)


@pytest.mark.parametrize(
    ("environ", "parts"),
    [
        ({INTRA_ENV: "1", INTER_ENV: "2"}, 2),
        ({INTRA_ENV: "1", INTER_ENV: "64"}, MAX_PARTS),
        ({INTRA_ENV: "2", INTER_ENV: "2"}, 1),  # kernels already split across threads
        ({INTRA_ENV: "1", INTER_ENV: "zero"}, 1),
        ({INTRA_ENV: "1", INTER_ENV: "-3"}, 1),
        ({}, 1),
    ],
)
def test_a_batch_is_split_into_one_part_per_inter_op_thread_when_kernels_run_on_one(environ, parts):
    assert training_parts(environ) == parts


def test_thread_settings_made_by_hand_win():
    environ = {}
    assert configure_tensorflow_threads(limit=2, cpus=8, environ=environ) == (1, 8)
    assert environ == {INTRA_ENV: "1", INTER_ENV: "8"}
    environ = {INTRA_ENV: "3", INTER_ENV: "zero"}
    assert configure_tensorflow_threads(limit=2, cpus=8, environ=environ) == (3, 0)  # 0: TensorFlow decides
    assert environ == {INTRA_ENV: "3", INTER_ENV: "zero"}


@pytest.mark.parametrize("raw", ["99999999999", "2147483647", "1000", "9" * 5000])
def test_thread_pools_far_above_the_cpus_are_capped_with_a_warning(raw, caplog):
    environ = {INTRA_ENV: raw, INTER_ENV: " 33 "}
    with caplog.at_level(logging.WARNING, logger="mnist_core.runtime.threads"):
        assert configure_tensorflow_threads(limit=2, cpus=8, environ=environ) == (32, 32)
    assert MAX_THREADS_PER_CPU == 4 and environ == {INTRA_ENV: "32", INTER_ENV: "32"}  # what TensorFlow will read
    assert caplog.text.count("at most 4 per CPU") == 2 and INTRA_ENV in caplog.text and INTER_ENV in caplog.text
    environ = {INTRA_ENV: "32", INTER_ENV: "-5"}
    assert configure_tensorflow_threads(limit=2, cpus=8, environ=environ) == (32, 0)
    assert environ == {INTRA_ENV: "32", INTER_ENV: "-5"}


@pytest.mark.parametrize(
    ("files", "quota"),
    [
        ({"cpu.max": "max 100000\n"}, None),
        ({"cpu.max": "150000 100000\n"}, 1.5),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({"cpu/cpu.cfs_quota_us": "200000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 2.0),
        ({"cpu.max": "garbage"}, None),
        ({"cpu.max": "100000 0"}, None),
        ({"cpu/cpu.cfs_quota_us": "1" + "0" * 400, "cpu/cpu.cfs_period_us": "1"}, None),
        ({}, None),
    ],
)
def test_a_container_cpu_quota_is_read(tmp_path, files, quota):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cgroup_cpu_quota(tmp_path) == quota


def test_a_quota_caps_the_cpu_count(tmp_path):
    from mnist_core.runtime.threads import cpu_count

    (tmp_path / "cpu.max").write_text("50000 100000")
    assert cpu_count(tmp_path) == 1
    assert cpu_count(tmp_path / "none") >= 1


# --- real jobs and races on tiny MNIST ---


def _job(data, slots, **changes):
    return TrainingJob(TrainSettings(batch_size=50, epochs=1, seed=0).with_(**changes), data, queue=slots)


def test_a_second_job_waits_its_turn_then_runs(tiny):
    slots = JobQueue(1)
    first, second = _job(tiny, slots), _job(tiny, slots)
    first.start()
    second.start()
    snap = second.state.view()
    assert (snap.status, snap.queue_position) == ("queued", 1)
    assert first.state.view().queue_position == 0
    second.pause()  # nothing to pause yet: it would hold its slot paused once granted
    assert second.state.view().status == "queued"
    wait_until(lambda: first.state.view().examples_seen > 0)
    assert second.state.view().examples_seen == 0 and second.alive
    assert first.join(timeout=200) and first.state.view().status == "finished"
    assert second.join(timeout=200)
    snap = second.state.view()
    assert (snap.status, snap.queue_position, snap.examples_seen) == ("finished", 0, len(tiny.train))
    assert (slots.running_count, slots.queued_count) == (0, 0)


def test_stopping_a_queued_job_ends_its_thread_and_frees_its_place(tiny):
    slots = JobQueue(1)
    running, queued, behind = _job(tiny, slots, epochs=100), _job(tiny, slots), _job(tiny, slots)
    for job in (running, queued, behind):
        job.start()
    assert behind.state.view().queue_position == 2
    started = time.monotonic()
    queued.stop()
    assert queued.join(timeout=10)
    assert time.monotonic() - started < 5
    snap = queued.state.view()
    assert snap.status == "stopped" and "waiting for a free training slot" in snap.message
    assert snap.examples_seen == 0 and snap.queue_position == 0
    wait_until(lambda: behind.state.view().queue_position == 1, timeout=10)
    assert (slots.running_count, slots.queued_count) == (1, 1)
    behind.stop()
    running.stop()
    assert behind.join(timeout=10) and running.join(timeout=60)
    assert (slots.running_count, slots.queued_count) == (0, 0)


def test_a_diverged_job_gives_its_slot_back(tiny):
    slots = JobQueue(1)
    sgd = default_optimizer("sgd")
    # A rate of 100 diverges whatever crops the first batches draw; 10 does on some draws only.
    job = _job(tiny, slots, optimizer=type(sgd)("sgd", sgd.params | {"learning_rate": 100.0}), epochs=20)
    job.start()
    assert job.join(timeout=200)
    assert job.state.view().status == "diverged" and slots.running_count == 0
    after = _job(tiny, slots)
    after.start()
    assert after.state.view().status == "starting"  # straight in, no queue
    after.stop()
    assert after.join(timeout=60)


def test_a_failed_job_gives_its_slot_back(tiny, monkeypatch):
    import mnist_core.training.job

    def broken(*args, **kwargs):
        raise RuntimeError("no network today")

    monkeypatch.setattr(mnist_core.training.job, "training_model", broken)
    slots = JobQueue(1)
    job = _job(tiny, slots)
    job.start()
    assert job.join(timeout=60)
    snap = job.state.view()
    assert snap.status == "error" and "no network today" in snap.message
    assert (slots.running_count, slots.queued_count) == (0, 0)


def _adam(name):
    return Contestant(name, OptimizerSettings("adam", default_optimizer("adam").params), 50, 0.001)


def test_a_race_takes_one_slot_and_queues_like_a_job(tiny):
    slots = JobQueue(1)
    race = Race([_adam("a"), _adam("b")], tiny, budget_examples=400, eval_every_examples=200, queue=slots)
    job = _job(tiny, slots)
    race.start()
    job.start()
    assert race.view().queue_position == 0 and job.state.view().queue_position == 1
    assert race.join(timeout=200) and race.view().status == "finished"
    assert job.join(timeout=200) and job.state.view().status == "finished"
    assert (slots.running_count, slots.queued_count) == (0, 0)


def test_a_queued_race_stops_at_once(tiny):
    slots = JobQueue(1)
    job = _job(tiny, slots, epochs=100)
    race = Race([_adam("a"), _adam("b")], tiny, budget_examples=400, queue=slots)
    job.start()
    race.start()
    snap = race.view()
    assert (snap.status, snap.queue_position) == ("queued", 1)
    race.stop()
    assert race.join(timeout=10)
    snap = race.view()
    assert snap.status == "stopped" and snap.queue_position == 0
    assert snap.statuses == {"a": "stopped", "b": "stopped"}
    assert [r.status for r in race.results()] == ["stopped", "stopped"]
    job.stop()
    assert job.join(timeout=60)
    assert (slots.running_count, slots.queued_count) == (0, 0)


def test_the_status_clock_counts_the_wait_in_line_then_only_the_training(monkeypatch):
    from mnist_core.training import run_state as live_state

    now = [100.0]
    monkeypatch.setattr(live_state.time, "monotonic", lambda: now[0])
    state = live_state.RunState(epochs=1, total_examples=10)
    state.set_queue_position(2)
    now[0] = 130.0
    assert state.view().elapsed_seconds == 30  # "2nd in line · 30 s"
    state.set_queue_position(0)  # its turn: the job starts
    now[0] = 135.0
    snap = state.view()
    assert snap.status == "starting" and snap.elapsed_seconds == 5  # "Training · ... · 5 s", not 35
