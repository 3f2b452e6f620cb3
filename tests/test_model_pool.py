"""Compiled models kept between jobs: a kept model, reset, trains exactly as a new one would, without retracing."""

from dataclasses import replace

import numpy as np
import pytest

from mnist_core.model.architecture import PRESETS
from mnist_core.settings import TrainSettings, default_optimizer
from mnist_core.training.job import TrainingJob
from mnist_core.training.model_pool import ModelPool, new_training_model, pool_key
from tests.conftest import small

pytestmark = pytest.mark.timeout(600)

LAYERS = PRESETS["convnetjs"]


def _trained(data, settings: TrainSettings, pool: ModelPool) -> TrainingJob:
    job = TrainingJob(settings, data, pool=pool)
    job.start()
    assert job.join(timeout=300)
    snap = job.state.view()
    assert snap.status == "finished", snap.message
    return job


def _tracings(model) -> int:
    """How often the model's training loop has been traced."""
    return model.batch_trainer().experimental_get_tracing_count()


def _metrics(job: TrainingJob) -> list:
    """Every epoch's figures but its clock (a new model's first epoch includes the tracing)."""
    return [replace(record, train_seconds=0, eval_seconds=0, wall_seconds=0) for record in job.state.view().history]


def _assert_same_training(reused: TrainingJob, new: TrainingJob) -> None:
    """The same losses and accuracies to the last bit, and the same final weights."""
    assert _metrics(reused) == _metrics(new)
    for a, b in zip(reused.model.get_weights(), new.model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


def _with(name: str, **params) -> object:
    optimizer = default_optimizer(name)
    return type(optimizer)(name, optimizer.params | params)


@pytest.mark.parametrize(
    ("name", "averaging"),
    [
        ("adadelta", 0.0),
        ("sgd", 0.0),
        ("momentum", 0.0),
        ("nesterov", 0.99),
        ("adagrad", 0.0),  # its accumulators start at 0.1
        ("rmsprop", 0.0),
        ("adam", 0.99),
    ],
)
def test_a_kept_model_trains_exactly_as_a_new_one(mnist, name: str, averaging: float) -> None:
    data = small(mnist, 600, 200)
    first = TrainSettings(batch_size=50, epochs=1, seed=1, optimizer=_with(name), averaging=averaging)
    # The second job differs in everything a kept model must take on: seed, learning rate (and momentum).
    changed = {"learning_rate": first.optimizer.params["learning_rate"] / 2}
    if name in ("momentum", "nesterov"):
        changed["momentum"] = 0.5
    second = first.with_(seed=2, optimizer=_with(name, **changed))
    pool = ModelPool(1)
    _trained(data, first, pool)
    kept = pool.take(LAYERS, second)
    assert kept is not None
    pool.give_back(kept)
    traces = _tracings(kept.model)
    assert traces >= 1

    reused = _trained(data, second, pool)
    new = _trained(data, second, ModelPool(0))

    assert len(pool) == 1 and pool.take(LAYERS, second) is kept  # the same compiled model, back in the pool
    assert _tracings(kept.model) == traces  # and not traced again
    _assert_same_training(reused, new)


def test_a_kept_model_continues_from_given_weights(mnist) -> None:
    data = small(mnist, 600, 200)
    settings = TrainSettings(batch_size=50, epochs=1, seed=3)
    pool = ModelPool(1)
    start = _trained(data, settings, pool).model.get_weights()
    reused = TrainingJob(settings, data, pool=pool, initial_weights=start)
    new = TrainingJob(settings, data, pool=ModelPool(0), initial_weights=start)
    for job in (reused, new):
        job.start()
        assert job.join(timeout=300)
    assert len(pool) == 1
    _assert_same_training(reused, new)


def test_weights_of_another_network_fail_the_job_and_the_model_stays_kept(mnist) -> None:
    data = small(mnist, 300, 100)
    settings = TrainSettings(batch_size=50, epochs=1, seed=0)
    pool = ModelPool(1)
    _trained(data, settings, pool)
    job = TrainingJob(settings, data, pool=pool, initial_weights=[np.zeros(3)])
    job.start()
    assert job.join(timeout=300)
    snap = job.state.view()
    assert snap.status == "error" and "Training failed" in snap.message
    assert len(pool) == 1
    _trained(data, settings, pool)  # the kept model still trains


def test_only_the_same_network_and_fixed_optimizer_settings_share_a_model() -> None:
    settings = TrainSettings()
    base = pool_key(LAYERS, settings)
    lr = settings.optimizer.params["learning_rate"] * 3
    assert pool_key(LAYERS, settings.with_(seed=9, epochs=2, batch_size=7, weight_decay=0.1, crops=2)) == base
    assert pool_key(LAYERS, settings.with_(optimizer=_with("adadelta", learning_rate=lr))) == base
    assert pool_key(LAYERS, settings.with_(optimizer=_with("adadelta", rho=0.9))) != base
    assert pool_key(LAYERS, settings.with_(optimizer=_with("adam"))) != base
    # Plain SGD with a momentum has momentum slots, without one it has none.
    sgd = pool_key(LAYERS, settings.with_(optimizer=_with("sgd")))
    assert pool_key(LAYERS, settings.with_(optimizer=_with("sgd", momentum=0.9))) != sgd
    assert pool_key(LAYERS, settings.with_(averaging=0.0)) != base
    assert pool_key(PRESETS["large"], settings) != base
    assert pool_key([{**LAYERS[0], "filters": np.int64(8)}, *LAYERS[1:]], settings)  # a key for any values


def test_the_pool_keeps_at_most_its_capacity_newest_first() -> None:
    settings = TrainSettings()
    models = [new_training_model(LAYERS, settings.with_(seed=i)) for i in range(3)]
    pool = ModelPool(2)
    for held in models:
        pool.give_back(held)
    assert len(pool) == 2
    assert pool.take(LAYERS, settings) is models[2]
    assert pool.take(LAYERS, settings) is models[1]
    assert pool.take(LAYERS, settings) is None  # the oldest was dropped
    assert pool.take(LAYERS, settings.with_(averaging=0.0)) is None


def test_a_kept_larger_network_with_dropout_trains_exactly_as_a_new_one(mnist) -> None:
    data = small(mnist, 600, 200)
    first = TrainSettings(batch_size=50, epochs=1, seed=1, preset="large")
    pool = ModelPool(1)
    _trained(data, first, pool)
    reused = _trained(data, first.with_(seed=2), pool)
    new = _trained(data, first.with_(seed=2), ModelPool(0))
    assert len(pool) == 1
    _assert_same_training(reused, new)


def test_a_job_that_failed_while_training_does_not_hand_its_model_on(mnist, monkeypatch) -> None:
    def fail(self, model, decay):
        raise RuntimeError("broken")

    monkeypatch.setattr(TrainingJob, "_train", fail)
    pool = ModelPool(1)
    job = TrainingJob(TrainSettings(batch_size=50, epochs=1), small(mnist, 300, 100), pool=pool)
    job.start()
    assert job.join(timeout=300)
    assert job.state.view().status == "error"
    assert len(pool) == 0
    assert job.model is not None and not job.model.compiled  # a copy of its weights, not the compiled one
