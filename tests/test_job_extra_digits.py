"""A job trains on MNIST plus saved digits: their repeats in every epoch, their held-out part read per epoch."""

import json
from dataclasses import replace

import numpy as np
import pytest

from mnist_core.charts.training import accuracy_frame, accuracy_series, accuracy_spec, chart_own
from mnist_core.data.own_digits import DEFAULT_SHARE, ExtraDigits, is_held_out
from mnist_core.settings import TrainSettings
from mnist_core.store.curves import history, parse, train_curves
from mnist_core.training.job import TrainingJob
from mnist_core.training.run_state import RunView
from mnist_core.training.status import Status
from tests.conftest import small

pytestmark = pytest.mark.timeout(300)


def _extra(mnist, count: int = 60) -> ExtraDigits:
    """`count` "saved" digits: MNIST test images inverted top to bottom, unlike any training image."""
    x = mnist.test.x[:count, ::-1].copy()
    return ExtraDigits.of(np.arange(1, count + 1), x, mnist.test.y[:count])


def test_each_epoch_has_the_extra_digits_in_and_reports_their_accuracy(mnist):
    data, extra = small(mnist, 2000), _extra(mnist)
    per_epoch = extra.per_epoch(len(data.train))
    assert per_epoch > 0 and per_epoch % len(extra.split.train_y) == 0
    assert abs(per_epoch / (len(data.train) + per_epoch) - DEFAULT_SHARE) < 0.02
    job = TrainingJob(TrainSettings(batch_size=50, epochs=2, seed=0, own_digits=1), data, extra=extra)
    job.start()
    assert job.join(timeout=240)
    snap = job.state.view()
    assert snap.status is Status.FINISHED, snap.message
    epoch_size = len(data.train) + per_epoch
    assert snap.total_examples == 2 * epoch_size
    assert [r.examples_seen for r in snap.history] == [epoch_size, 2 * epoch_size]
    held = len(extra.split.held_y)
    assert held > 0
    for record in snap.history:
        assert record.own_accuracy is not None
        assert round(record.own_accuracy * held) == pytest.approx(record.own_accuracy * held)  # a share of them


def test_a_job_without_extra_digits_reports_none(tiny):
    job = TrainingJob(TrainSettings(batch_size=50, epochs=1, seed=0), tiny)
    job.start()
    assert job.join(timeout=240)
    snap = job.state.view()
    assert snap.examples_seen == len(tiny.train)
    assert [r.own_accuracy for r in snap.history] == [None]
    assert not chart_own(snap)
    assert set(accuracy_frame(snap).series) <= set(accuracy_series(4))


def test_the_held_out_part_is_the_same_on_every_run(mnist):
    ids = np.arange(1000, 1200)
    first, second = _extra(mnist, 200), ExtraDigits.of(ids[::-1], mnist.test.x[:200][::-1], mnist.test.y[:200][::-1])
    assert len(first.split.held_y) == sum(is_held_out(i) for i in range(1, 201))
    # The same ids held out whatever their order: the rule reads the id alone.
    again = ExtraDigits.of(ids, mnist.test.x[:200], mnist.test.y[:200])
    assert np.array_equal(np.sort(again.split.held_y), np.sort(second.split.held_y))
    assert len(again.split.held_y) + len(again.split.train_y) == 200


def test_the_record_keeps_own_accuracy_and_old_curves_still_load(mnist):
    data, extra = small(mnist, 1000), _extra(mnist, 40)
    job = TrainingJob(TrainSettings(batch_size=50, epochs=1, seed=0, own_digits=1), data, extra=extra)
    job.start()
    assert job.join(timeout=240)
    snap = job.state.view()
    stored = parse(train_curves(snap.progress, snap.history))
    epochs, _ = history(stored)
    assert [e.own_accuracy for e in epochs] == pytest.approx([r.own_accuracy for r in snap.history], abs=1e-5)
    # Curves stored before the field existed (no column) and a run without extra digits (nulls) keep their epochs.
    del stored["epochs"]["own_accuracy"]
    assert [e.own_accuracy for e in history(json.loads(json.dumps(stored)))[0]] == [None]
    without = tuple(replace(r, own_accuracy=None) for r in snap.history)
    assert [e.own_accuracy for e in history(parse(train_curves(snap.progress, without)))[0]] == [None]


def test_the_accuracy_chart_draws_the_held_out_line(mnist):
    data, extra = small(mnist, 1000), _extra(mnist, 40)
    job = TrainingJob(TrainSettings(batch_size=50, epochs=1, seed=0, own_digits=1), data, extra=extra)
    job.start()
    assert job.join(timeout=240)
    snap: RunView = job.state.view()
    assert chart_own(snap)
    name = accuracy_series(4, own=True)[-1]
    frame = accuracy_frame(snap)
    assert list(frame[frame.series == name].value) == pytest.approx([snap.history[0].own_accuracy])
    assert name in json.dumps(accuracy_spec(4, True))
    assert name not in json.dumps(accuracy_spec(4))


def test_a_snapshot_keeps_own_accuracy_and_an_older_one_loads_with_the_switches_off(mnist):
    from dataclasses import asdict

    from mnist_core.model.architecture import PRESETS
    from mnist_core.snapshots.load import load_snapshot
    from mnist_core.snapshots.manifest import manifest_settings
    from mnist_core.snapshots.save import save_snapshot

    data, extra = small(mnist, 600, 200), _extra(mnist, 40)
    job = TrainingJob(TrainSettings(batch_size=50, epochs=1, seed=0, own_digits=1), data, extra=extra)
    job.start()
    assert job.join(timeout=240)
    snap = job.state.view()
    loaded = load_snapshot(save_snapshot(job.state.weights()[1], job.layers, job.settings, snap))
    assert loaded.epochs == list(snap.history) and loaded.epochs[0].own_accuracy is not None
    assert loaded.settings.own_digits == 1
    older = asdict(TrainSettings())
    del older["own_digits"], older["class_digits"]  # as a snapshot saved before the switches existed
    settings = manifest_settings({"settings": older}, PRESETS["convnetjs"])
    assert (settings.own_digits, settings.class_digits) == (0, 0)
