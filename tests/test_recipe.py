"""The default recipe's pieces on real MNIST: the learning-rate anneal, the weight average, the stop at a target,
and the promise the Train page makes from them."""

import numpy as np
import pytest

from mnist_core.model.architecture import PRESETS
from mnist_core.settings import TrainSettings, validate_settings
from mnist_core.training import engine as engine_module
from mnist_core.training.engine import Engine
from mnist_core.training.job import TrainingJob
from mnist_core.training.model_pool import ModelPool, new_training_model
from mnist_core.training.promise import MeasuredRun, measured_default_run, promise
from mnist_core.training.run_state import RunState
from mnist_core.training.schedule import Anneal

pytestmark = pytest.mark.timeout(300)


def test_the_anneal_holds_the_rate_then_falls_along_a_half_cosine_to_zero():
    anneal = Anneal(0.4)
    assert [anneal.factor(done, 1000) for done in (0, 300, 600)] == [1.0, 1.0, 1.0]
    assert anneal.factor(800, 1000) == pytest.approx(0.5)
    assert anneal.factor(700, 1000) == pytest.approx((1 + np.cos(np.pi / 4)) / 2)
    assert anneal.factor(1000, 1000) == pytest.approx(0.0) and anneal.factor(5000, 1000) == pytest.approx(0.0)
    assert Anneal(0.0).factor(999, 1000) == 1.0 and Anneal(1.0).factor(0, 0) == 1.0


class _Recorder:
    """The learning rate at the start of each call into the training loop (with the examples trained before it in
    this fit), and after each call the raw (not yet averaged) weights."""

    def __init__(self):
        self.rates, self.done, self.weights = [], [], []


def _engine(settings: TrainSettings, examples: int, anneal: float = 0.0) -> Engine:
    held = new_training_model(PRESETS[settings.preset], settings)
    state = RunState(1, examples)
    return Engine(
        held,
        state,
        params=settings.optimizer.params,
        batch_size=settings.batch_size,
        weight_decay=settings.weight_decay,
        examples_per_epoch=examples,
        anneal=Anneal(anneal),
        planned_examples=examples,
    )


def _fit(engine: Engine, x, y) -> _Recorder:
    """Engine.fit, recording around each call into the model's training loop."""
    recorder, model, before = _Recorder(), engine.keras_model, engine.examples
    train = model.train_batches

    def recorded(images, labels):
        recorder.rates.append(float(model.optimizer.learning_rate.numpy()))
        recorder.done.append(engine.examples - before)
        logs = train(images, labels)
        recorder.weights.append([v.numpy().copy() for v in model.trainable_variables])
        return logs

    model.train_batches = recorded
    try:
        engine.fit(x, y)
    finally:
        del model.train_batches
    return recorder


def test_the_engine_anneals_the_rate_over_the_end_of_its_plan_and_keeps_live_changes(mnist, monkeypatch):
    monkeypatch.setattr(engine_module, "BATCHES_PER_CALL", 2)  # 40 batches in 20 calls
    settings = TrainSettings(batch_size=25, seed=0, averaging=0.0)
    x, y = mnist.train.x[:1000], mnist.train.y[:1000]
    engine = _engine(settings, 1000, anneal=0.5)
    recorder = _fit(engine, x, y)
    rates, done = recorder.rates, recorder.done
    base = settings.optimizer.params["learning_rate"]
    assert done == list(range(0, 1000, 50))
    assert rates[:11] == pytest.approx([base] * 11)  # 550 examples done before call 11: still the first half
    assert rates[11:] == pytest.approx([base * Anneal(0.5).factor(n, 1000) for n in done[11:]])
    assert rates[-1] < 0.03 * base and all(a > b for a, b in zip(rates[11:], rates[12:]))
    engine.state.queue_changes({"learning_rate": 2.0})  # a live change while annealed: the new rate, annealed
    engine.planned_examples = 2000
    rates = _fit(engine, x, y).rates
    assert rates == pytest.approx([2.0 * Anneal(0.5).factor(1000 + n, 2000) for n in done])
    assert engine.state.view().learning_rate == pytest.approx(2.0 * Anneal(0.5).factor(1950, 2000), abs=1e-6)


def test_without_the_anneal_the_rate_stays_as_set(mnist, monkeypatch):
    monkeypatch.setattr(engine_module, "BATCHES_PER_CALL", 4)  # 10 batches in 3 calls
    settings = TrainSettings(batch_size=50, seed=0, averaging=0.0, anneal=0.0)
    engine = _engine(settings, 500)
    rates = _fit(engine, mnist.train.x[:500], mnist.train.y[:500]).rates
    assert rates == pytest.approx([settings.optimizer.params["learning_rate"]] * 3)


@pytest.mark.parametrize("momentum", [0.9, 0.0])
def test_the_weight_average_replaces_the_weights_at_the_end_of_each_fit(mnist, momentum, monkeypatch):
    monkeypatch.setattr(engine_module, "BATCHES_PER_CALL", 1)  # the raw weights after every batch
    engine = _engine(TrainSettings(batch_size=50, seed=0, averaging=momentum), 500)
    recorder = _fit(engine, mnist.train.x[:500], mnist.train.y[:500])
    average = recorder.weights[0]  # the average starts at the first step's weights
    for t, raw in enumerate(recorder.weights[1:], start=1):
        m = min(momentum, (1 + t) / (10 + t))  # and warms up (compat.keras_workarounds.warm_average)
        average = [m * a + (1 - m) * w for a, w in zip(average, raw)]
    final = [v.numpy() for v in engine.keras_model.trainable_variables]
    for got, want, last_raw in zip(final, average, recorder.weights[-1]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
        if momentum:
            assert not np.allclose(got, last_raw, atol=1e-6)  # averaged, not the last step's raw weights


def test_a_run_stops_after_the_first_epoch_that_reaches_its_target(tiny):
    job = TrainingJob(TrainSettings(batch_size=50, epochs=6, seed=0, stop_at=60.0), tiny, pool=ModelPool(0))
    job.start()
    assert job.join(timeout=240)
    view = job.state.view()
    accuracies = [r.test_accuracy_crops for r in view.history]
    assert view.status == "finished" and 1 <= len(accuracies) < 6, view.message
    assert accuracies[-1] >= 0.6 and all(a < 0.6 for a in accuracies[:-1])
    n = len(accuracies)
    assert view.message.startswith(f"Reached 60% test accuracy after {n} epochs ({n * 2000:,} examples)")
    assert view.history[0].eval_seconds > 0 and view.history[0].wall_seconds >= view.history[0].eval_seconds


def test_a_target_not_reached_trains_every_epoch(tiny):
    job = TrainingJob(TrainSettings(batch_size=50, epochs=2, seed=0, stop_at=100.0), tiny, pool=ModelPool(0))
    job.start()
    assert job.join(timeout=240)
    view = job.state.view()
    assert view.status == "finished" and len(view.history) == 2 and view.message == "Finished after 2 epochs"


def test_the_new_fields_validate_like_the_others():
    settings = validate_settings({"anneal": "0.3", "stop_at": "99"}, PRESETS)
    assert (settings.anneal, settings.stop_at) == (0.3, 99.0)
    for raw in ({"anneal": "1.5"}, {"stop_at": "101"}, {"stop_at": "-1"}):
        with pytest.raises(ValueError, match="out of range"):
            validate_settings(raw, PRESETS)


RUN = MeasuredRun(
    target=0.99, seeds=10, seeds_reached=10, median_examples=165_000, worst_examples=220_000,
    median_final_accuracy=0.9921,
)  # fmt: skip


def test_the_promise_is_computed_from_the_measured_speed():
    text = promise(RUN, 5_500.0)
    assert "**99%** test accuracy after about **165,000 examples** (3.0 epochs; every one of 10 seeds" in text
    assert "seeds by 220,000)" in text
    assert "end at about 99.2%" in text
    assert "At this server's measured speed (5,500 examples/s) that is about **30 s** of training." in text
    assert "about **4.6 minutes**" in promise(RUN, 600.0)
    assert promise(RUN, None).endswith("This server has not measured its training speed yet.")
    partial = MeasuredRun(0.99, 10, 9, 165_000, None, 0.991)
    assert "9 of 10 seeds get there" in promise(partial, 5_500.0)


def test_the_recorded_default_run_is_of_the_current_defaults():
    import json

    from mnist_core.training.promise import RECORD

    record = json.loads(RECORD.read_text())
    assert record["settings"] == TrainSettings().to_dict(), "defaults changed: run tools.bench_seeds --record"
    assert record["summary"]["seeds"] >= 10 and record["target"] == 0.99
    assert measured_default_run().median_examples == record["summary"]["median_examples_to_target"]


def test_the_seeds_benchmark_lists_its_options():
    from tools.bench_seeds import _parser

    text = _parser().format_help()  # the labels hold % signs, which argparse reads as formats unless doubled
    assert "--stop-at" in text and "reaches (%)" in text and "--anneal" in text
