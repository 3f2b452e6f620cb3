"""Cluster runs end with their session and their server, survive a lost worker, and fall back when unreachable."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from mnist_core.cluster.factory import new_job
from mnist_core.settings import TrainSettings
from tests.cluster.conftest import alive_hosts, free_port
from tests.conftest import REPO, wait_until

pytestmark = pytest.mark.timeout(600)


def _job(data, **changes):
    job = new_job(TrainSettings(batch_size=50, epochs=100, seed=0).with_(**changes), data)
    job.start()
    return job


def _training(job, examples: int = 100) -> None:
    wait_until(lambda: job.view().examples_seen > examples or job.view().final, timeout=240)
    assert not job.view().final, job.view().message


def test_a_run_waits_for_a_free_worker_and_an_ended_session_leaves_no_actor(mnist, tiny, on_cluster):
    from ui.lifecycle import SessionOwner

    # Each asks for the head's 2 CPUs: the second waits for the first. The first trains on all of MNIST, so it is
    # still training when the second is looked at (100 epochs of the tiny set can end within a busy machine's
    # polling delay, and the second then gets the worker).
    first, second = _job(mnist), _job(tiny)
    _training(first)
    snap = second.view()
    assert snap.status == "queued" and snap.queue_position == 1 and "waiting for a worker" in second.where
    assert len(alive_hosts(on_cluster)) == 2  # both actors exist; Ray holds the second until CPUs are free
    owner = SessionOwner("session-cluster", 0.1, lambda: False, join_seconds=60, settle_seconds=())
    owner.adopt("job", first)
    owner.adopt("race", second)
    ended = owner.close("the test ended it")
    assert ended == {"job": True, "race": True}
    assert first.view().status == "stopped" and second.view().status == "stopped"
    assert "waiting for a worker" in second.view().message
    wait_until(lambda: not alive_hosts(on_cluster), timeout=60)


def test_stopping_the_server_leaves_no_actor(on_cluster):
    script = textwrap.dedent(
        """
        import time
        from mnist_core.cluster.factory import new_job
        from mnist_core.data.mnist import load_mnist
        from mnist_core.settings import TrainSettings
        job = new_job(TrainSettings(epochs=100), load_mnist())
        job.start()
        while job.placement is None and not job.view().final:
            time.sleep(0.2)
        print("placed", job.placement, flush=True)
        time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        assert "placed" in server.stdout.readline()
        assert len(alive_hosts(on_cluster)) == 1
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    finally:
        server.kill()
    wait_until(lambda: not alive_hosts(on_cluster), timeout=90)


def test_a_killed_worker_is_reported_and_continue_training_goes_on_from_its_last_weights(tiny, on_cluster):
    job = _job(tiny, epochs=30)  # far from done when the worker is killed, however fast it trains
    wait_until(lambda: job.view().history or job.view().final, timeout=240)  # one epoch done
    _training(job, len(tiny.train) + 200)
    os.kill(job.placement.pid, signal.SIGKILL)
    wait_until(lambda: job.view().final, timeout=120)
    lost = job.view()
    assert job.lost and lost.status == "error"
    assert lost.message.startswith("The machine training your run stopped")
    assert "Continue training" in lost.message
    version, weights = job.weights()
    assert weights is not None and version == lost.weights_version > 0
    done = len(lost.history)  # the epochs evaluated before the kill (on a slice this small, maybe more than one)
    assert lost.examples_seen > len(tiny.train) and [r.epoch for r in lost.history] == list(range(1, done + 1))
    assert job.join(30)
    wait_until(lambda: not alive_hosts(on_cluster), timeout=60)

    options = job.continuation()
    again = new_job(data=tiny, layers=job.layers, **options | {"settings": job.settings.with_(epochs=1)})
    again.start()
    assert again.join(300)
    after = again.view()
    assert after.status == "finished", after.message
    assert after.history[:done] == lost.history and len(after.history) == done + 1
    assert after.examples_seen == lost.examples_seen + len(tiny.train)
    assert after.history[-1].test_accuracy_crops > 0.5


def test_an_unreachable_cluster_is_said_and_the_run_trains_here(tiny, monkeypatch):
    from mnist_core.training.job import TrainingJob

    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MNIST_LIVE_RAY_ADDRESS", address)
    started = time.monotonic()
    job = new_job(TrainSettings(batch_size=50, epochs=1), tiny)
    assert time.monotonic() - started < 10
    assert isinstance(job, TrainingJob)
    assert job.notice.startswith(f"The Ray cluster at {address} cannot be reached (nothing answers at {address}")
    assert "this run trains on this server" in job.notice and job.where.startswith("on this server")
    job.start()
    assert job.join(300)
    assert job.view().status == "finished"


def test_runs_land_on_both_nodes_and_a_lost_node_is_reported(mnist, on_cluster, second_node):
    # Both train on all of MNIST: the run on the head must still be training after the lost node is noticed, which
    # can take longer than 100 epochs of the tiny set.
    jobs = [_job(mnist), _job(mnist)]
    for job in jobs:
        _training(job)
    assert jobs[0].placement.node_id != jobs[1].placement.node_id
    head_node = {n["NodeID"] for n in __import__("ray").nodes() if n["Alive"] and n.get("Resources", {}).get(
        "node:__internal_head__")}  # fmt: skip
    on_second = next(j for j in jobs if j.placement.node_id not in head_node)
    on_head = next(j for j in jobs if j is not on_second)
    second_node.stop()
    wait_until(lambda: on_second.view().final, timeout=120)
    assert on_second.lost and on_second.view().message.startswith("The machine training your run stopped")
    seen = on_head.view().examples_seen
    wait_until(lambda: on_head.view().examples_seen > seen + 100, timeout=60)
    assert not on_head.lost
    on_head.stop()
    assert on_head.join(120)
    wait_until(lambda: not alive_hosts(on_cluster), timeout=60)
