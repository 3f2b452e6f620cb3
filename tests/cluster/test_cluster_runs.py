"""Runs on a real local Ray cluster: the same engine, steered through the same interface as in-process runs."""

from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest

from mnist_core.cluster.factory import new_job, new_race
from mnist_core.settings import OptimizerSettings, TrainSettings, default_optimizer
from mnist_core.store.curves import series
from mnist_core.training.contestants import Contestant
from tests.cluster.conftest import alive_hosts
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(600)


def _job(data, **changes):
    settings = TrainSettings(batch_size=50, epochs=1, seed=0).with_(**changes)
    job = new_job(settings, data)
    job.start()
    return job


def _trains(job, examples: int = 200) -> None:
    wait_until(lambda: job.view().examples_seen > examples or job.view().final, timeout=240)
    assert not job.view().final, job.view().message


def test_a_default_run_finishes_through_ray_with_the_in_process_metrics(tiny, on_cluster):
    from mnist_core.cluster.remote import RemoteJob

    job = _job(tiny)
    assert isinstance(job, RemoteJob)
    assert job.view().status == "queued" and "waiting for a worker" in job.where
    assert job.join(timeout=300)
    snap = job.view()
    assert snap.status == "finished", snap.message
    assert job.where.startswith(f"on the Ray cluster at {on_cluster.address}: machine ") and job.placement.pid > 0
    assert job.where.endswith(f"worker process {job.placement.pid}, 2 CPUs")
    assert snap.examples_seen == len(tiny.train) and [r.epoch for r in snap.history] == [1]
    assert 0.3 < snap.history[-1].test_accuracy_crops <= 1
    assert snap.loss is not None and snap.ms_step > 0 and snap.examples_per_second > 0 and snap.recent
    version, weights = job.weights()
    assert version == snap.weights_version > 1 and all(np.isfinite(w).all() for w in weights)
    assert job.model is not None and len(job.model.get_weights()) == len(weights)
    assert not alive_hosts(on_cluster)  # its actor ended with it

    from mnist_core.training.job import TrainingJob

    here = TrainingJob(job.settings, tiny)
    here.start()
    assert here.join(300)
    local = here.view()
    assert local.status == "finished"
    assert {f.name for f in dataclasses.fields(local)} == {f.name for f in dataclasses.fields(snap)}
    assert dataclasses.asdict(local.history[-1]).keys() == dataclasses.asdict(snap.history[-1]).keys()
    assert local.examples_seen == snap.examples_seen and local.weights_version > 1


def test_pause_resume_and_stop(tiny, on_cluster):
    job = _job(tiny, epochs=100)
    _trains(job)
    job.pause()
    assert job.view().status == "paused"
    time.sleep(1.0)  # the batch in flight ends
    seen = job.view().examples_seen
    time.sleep(1.5)
    assert job.view().status == "paused" and job.view().examples_seen == seen
    job.resume()
    wait_until(lambda: job.view().examples_seen > seen + 200, timeout=120)
    assert job.view().status == "running"
    job.stop()
    assert job.join(timeout=120)
    assert job.view().status == "stopped"
    wait_until(lambda: not alive_hosts(on_cluster), timeout=60)


def _weight_change(job, seconds: float = 1.5) -> float:
    v0, before = job.weights()
    wait_until(lambda: job.weights()[0] > v0 + 1, timeout=60)
    time.sleep(seconds)
    _, after = job.weights()
    return max(float(np.abs(a - b).max()) for a, b in zip(before, after))


def test_a_live_learning_rate_change_takes_effect(tiny, on_cluster):
    sgd = default_optimizer("sgd")
    frozen = sgd.params | {"learning_rate": 1e-9}
    job = _job(tiny, optimizer=type(sgd)("sgd", frozen), epochs=200, averaging=0.0)
    _trains(job, 100)
    assert _weight_change(job) < 1e-5
    report = job.change(job.settings.with_(optimizer=type(sgd)("sgd", frozen | {"learning_rate": 0.1})))
    assert report.applied == ["learning_rate"] and not report.needs_reset
    assert job.settings.optimizer.params["learning_rate"] == 0.1
    assert _weight_change(job) > 1e-3
    assert job.change(job.settings.with_(seed=5)).needs_reset == ["seed"]
    job.stop()
    assert job.join(120)


def test_divergence_restores_the_last_good_weights(tiny, on_cluster):
    optimizer = default_optimizer("sgd")
    # A rate of 100 diverges whatever crops the first batches draw; 10 does on some draws only.
    job = _job(tiny, optimizer=type(optimizer)("sgd", optimizer.params | {"learning_rate": 100.0}), epochs=20)
    assert job.join(timeout=300)
    snap = job.view()
    assert snap.status == "diverged" and "too high" in snap.message
    assert all(np.isfinite(w).all() for w in job.weights()[1])


def _contestant(name, optimizer, learning_rate):
    params = default_optimizer(optimizer).params | {"learning_rate": learning_rate}
    return Contestant(name, OptimizerSettings(optimizer, params), 50, 0.001)


def test_a_race_of_three_finishes_with_results(tiny, on_cluster):
    from mnist_core.cluster.remote import RemoteRace

    line_up = [_contestant("adam", "adam", 0.001), _contestant("sgd", "sgd", 0.01), _contestant("hot", "sgd", 10.0)]
    race = new_race(line_up, tiny, budget_examples=1000, eval_every_examples=500)
    assert isinstance(race, RemoteRace)
    race.start()
    assert race.join(timeout=300)
    snap = race.view()
    assert snap.status == "finished", snap.message
    assert snap.statuses == {"adam": "finished", "sgd": "finished", "hot": "diverged"}
    results = {r.name: r for r in race.results()}
    assert results["adam"].test_accuracy > results["sgd"].test_accuracy
    assert snap.points["adam"][-1].examples_seen == 1000 and 0 < results["hot"].diverged_at < 1000
    assert not alive_hosts(on_cluster)


def test_a_finished_cluster_race_gives_the_run_store_an_in_process_race_s_records(tiny, on_cluster):
    from mnist_core.cluster.remote import RemoteRace
    from mnist_core.store import Limits, race_records
    from mnist_core.training.race import Race

    line_up = [_contestant("adam", "adam", 0.001), _contestant("sgd", "sgd", 0.01), _contestant("hot", "sgd", 10.0)]
    options = {"seed": 3, "budget_examples": 600, "eval_every_examples": 300}
    saved = {}

    def record(race) -> None:  # what ui.run_store registers: the records are made in the run's thread at its end
        saved[type(race).__name__] = race_records(race, "browser-c", "convnetjs")

    remote, here = new_race(line_up, tiny, **options), Race(line_up, tiny, **options)
    assert isinstance(remote, RemoteRace)
    for race in (remote, here):
        race.on_end(record)
        race.start()
        assert race.join(timeout=300)
        assert race.view().status == "finished", race.view().message
    assert not alive_hosts(on_cluster)
    cluster = {r.name: r for r in saved["RemoteRace"]}
    local = {r.name: r for r in saved["Race"]}
    assert set(cluster) == set(local) == {"adam", "sgd", "hot"}  # one record per contestant that trained
    limits = Limits()
    for name, mine in cluster.items():
        theirs = local[name]
        for field in ("owner", "kind", "status", "settings", "layers", "epochs"):
            assert getattr(mine, field) == getattr(theirs, field), (name, field)
        if mine.status == "finished":
            assert mine.examples_seen == theirs.examples_seen == 600
        else:
            assert mine.status == "diverged" and 0 < mine.examples_seen < 600
        mine_row, theirs_row = mine.row(limits), theirs.row(limits)
        assert mine_row.keys() == theirs_row.keys()
        assert {k for k, v in mine_row.items() if v is None} == {k for k, v in theirs_row.items() if v is None}, name
        assert mine_row["weights"] and mine_row["weights_note"] is None  # the contestant's weights are kept
        assert [w.shape for w in mine.weights] == [w.shape for w in theirs.weights]
        assert all(np.isfinite(w).all() for w in mine.weights)
        curves, their_curves = series(json.loads(mine.curves)), series(json.loads(theirs.curves))
        assert {k: len(v) for k, v in curves.items()} == {k: len(v) for k, v in their_curves.items()}, name
