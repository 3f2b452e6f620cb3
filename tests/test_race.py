"""The optimizer race on small slices of real MNIST: validation, fairness, divergence, lifecycle, results."""

import math
import time

import numpy as np
import pytest

from mnist_core.model.architecture import PRESETS
from mnist_core.model.budget import STEP_MEMORY_BUDGET_BYTES, model_memory_bytes, step_memory_bytes
from mnist_core.runtime.threads import training_parts
from mnist_core.settings import OptimizerSettings, default_optimizer
from mnist_core.training.contestants import (
    MAX_CONTESTANTS,
    RACE_MEMORY_BUDGET_BYTES,
    Contestant,
    check_race,
    contestant_rows,
    default_contestants,
    race_memory_bytes,
    validate_contestants,
)
from mnist_core.training.race import Race
from mnist_core.training.race_results import summary_text
from tests.conftest import wait_until

pytestmark = pytest.mark.timeout(300)


def _adam(name, batch_size=50, **params):
    settings = default_optimizer("adam")
    return Contestant(name, OptimizerSettings("adam", {**settings.params, **params}), batch_size, 0.001)


def _sgd(name, learning_rate, batch_size=50):
    return Contestant(name, OptimizerSettings("sgd", {"learning_rate": learning_rate}), batch_size, 0.001)


def _run(race):
    race.start()
    assert race.join(timeout=240)
    return race.view()


# --- validation ---


def test_table_rows_validate_and_name_the_bad_field():
    rows = contestant_rows(default_contestants())
    rows[0]["learning_rate"] = "fast"
    rows[1]["momentum"] = "1.5"
    rows[2]["name"] = rows[3]["name"]
    rows[4]["name"] = float("nan")
    rows[5]["optimizer"] = "lion"
    rows[6]["batch_size"] = "64"  # strings are fine
    rows[6]["beta_1"] = float("nan")  # Adadelta has no beta_1: ignored
    contestants, errors = validate_contestants(rows)
    assert sorted(errors) == [0, 1, 3, 4, 5]  # the duplicate is the second use of the name
    assert "Learning rate" in errors[0] and "'fast'" in errors[0]
    assert "Momentum" in errors[1] and "out of range" in errors[1]
    assert "unique" in errors[3] and "Name" in errors[4] and "lion" in errors[5]
    assert [c.name for c in contestants] == ["Adagrad", "Adadelta"]  # row 2 took row 3's name
    assert contestants[1].batch_size == 64 and contestants[1].optimizer.params["learning_rate"] == 3.0
    assert validate_contestants([]) == ([], {})


@pytest.mark.parametrize("huge", [10**400, -(10**400), 10**5000], ids=["1e400", "-1e400", "1e5000"])
def test_integers_too_large_for_a_float_flag_their_row_and_field(huge):
    rows = contestant_rows(default_contestants())
    for field, row in zip(("learning_rate", "momentum", "batch_size", "weight_decay", "rho", "epsilon"), rows):
        row[field] = huge
    rows[5]["beta_2"] = huge
    rows[6].update(rho=huge, epsilon=huge)
    contestants, errors = validate_contestants(rows)
    assert sorted(errors) == [0, 1, 2, 3, 4, 5, 6] and contestants == []
    labels = ["Learning rate", "Momentum", "Batch size", "L2 weight decay", "Rho", "Epsilon"]
    for index, label in enumerate(labels):
        assert f"{label}: " in errors[index] and "is out of range" in errors[index], errors[index]
        assert len(errors[index]) < 200
    assert "Beta 2: " in errors[5]
    assert "Rho: " in errors[6] and "Epsilon: " in errors[6]


@pytest.mark.parametrize(
    ("cell", "value", "message"),
    [
        ("name", 10**5000, "Name: must be text"),
        ("name", ["x"], "Name: must be text"),
        ("name", "x" * 10_000, "Name: 10,000 characters is too long"),
        ("optimizer", 10**5000, "Optimizer: unknown '"),
        ("optimizer", {"adam": 1}, "Optimizer: unknown '"),
        ("optimizer", "lion" * 10_000, "Optimizer: unknown 'lionlion"),
        ("batch_size", True, "Batch size: 'True' is not a number"),
        ("learning_rate", {"a": 1}, "Learning rate: '{'a': 1}' is not a number"),
        ("learning_rate", "NaN", "Learning rate: must be a finite number"),
        ("learning_rate", "1" * 5000, "Learning rate: a value of 5,000 characters is too long"),
    ],
    ids=lambda v: v if isinstance(v, str) and len(v) < 20 else type(v).__name__,
)
def test_cells_of_the_wrong_kind_flag_their_row_with_a_short_message(cell, value, message):
    [row] = contestant_rows([_adam("a")])
    row[cell] = value
    contestants, errors = validate_contestants([row])
    assert contestants == [] and message in errors[0] and len(errors[0]) < 250, errors


def test_rows_that_are_not_rows_are_flagged():
    contestants, errors = validate_contestants([None, 7, ["name", "a"], *contestant_rows([_adam("a")])])
    assert [c.name for c in contestants] == ["a"] and sorted(errors) == [0, 1, 2]
    assert all("not a table row" in m for m in errors.values())


def test_a_race_takes_at_most_12_contestants():
    rows = contestant_rows([_sgd(f"c{i}", 0.01) for i in range(1_000)])
    rows[500]["learning_rate"] = "garbage"  # beyond the limit a row is not read at all
    contestants, errors = validate_contestants(rows)
    assert MAX_CONTESTANTS == 12 and [c.name for c in contestants] == [f"c{i}" for i in range(12)]
    assert sorted(errors) == list(range(12, 1_000))
    assert errors[500] == errors[12] and "at most 12 contestants" in errors[12]
    assert "at most 12 contestants" in check_race([_sgd(f"c{i}", 0.01) for i in range(13)], PRESETS["convnetjs"])
    with pytest.raises(ValueError, match="at most 12 contestants"):
        Race([_sgd(f"c{i}", 0.01) for i in range(13)], data=None)


# About 4.9 million parameters: ~88 MB per contestant's model (weights, gradients, optimizer slots, overhead).
BIG_NET = [{"type": "flatten"}, {"type": "dense", "units": 8_000, "activation": "relu"},
           {"type": "dense", "units": 10, "activation": "softmax"}]  # fmt: skip


def test_a_race_s_memory_is_computed_before_it_runs_and_refused_over_the_budget():
    few, many = [_sgd(f"c{i}", 0.01, 128) for i in range(3)], [_sgd(f"c{i}", 0.01, 128) for i in range(12)]
    assert check_race(many, PRESETS["large"]) is None
    expected = 12 * model_memory_bytes(BIG_NET) + step_memory_bytes(BIG_NET, 128)
    assert race_memory_bytes(many, BIG_NET) == expected > RACE_MEMORY_BUDGET_BYTES >= race_memory_bytes(few, BIG_NET)
    message = check_race(many, BIG_NET)
    assert f"{expected / 2**20:,.0f} MB" in message and f"{RACE_MEMORY_BUDGET_BYTES / 2**20:,.0f} MB" in message
    assert "12 contestants" in message
    with pytest.raises(ValueError, match="MB"):
        Race(many, data=None, layers=BIG_NET)  # refused before any model is built


# About 92,000 values per image (64 feature maps of 24x24): over a gigabyte for one step of 4,096.
WIDE_NET = [{"type": "conv", "filters": 64, "kernel": 3, "stride": 1, "padding": "same", "activation": "relu"},
            {"type": "maxpool", "size": 2, "stride": 2}, {"type": "flatten"},
            {"type": "dense", "units": 10, "activation": "softmax"}]  # fmt: skip


def test_a_contestant_whose_training_step_is_over_the_budget_is_flagged():
    rows = contestant_rows([_sgd("small", 0.01, 128), _sgd("huge", 0.01, 4096)])
    assert step_memory_bytes(WIDE_NET, 4096) > STEP_MEMORY_BUDGET_BYTES >= step_memory_bytes(WIDE_NET, 128)
    contestants, errors = validate_contestants(rows, WIDE_NET)
    assert [c.name for c in contestants] == ["small"] and "Batch size 4,096" in errors[1] and "MB" in errors[1]
    assert validate_contestants(rows)[1] == {}  # without a network no memory is checked


def test_default_line_up():
    contestants = default_contestants()
    assert [c.optimizer.name for c in contestants] == [
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "adam",
        "adadelta",
    ]
    assert {(c.batch_size, c.weight_decay) for c in contestants} == {(128, 0.001)}
    assert contestants[-1].learning_rate == 3.0
    assert validate_contestants(contestant_rows(contestants)) == (contestants, {})


# --- fairness ---


def test_contestants_start_equal_and_see_the_same_batches_and_crops(tiny):
    race = Race([_adam("a"), _sgd("b", 0.01), _adam("c", beta_1=0.5)], tiny, budget_examples=500)
    race.prepare()
    first, *others = [r.model for r in race.runners]
    for model in others:
        assert all(np.array_equal(a, b) for a, b in zip(first.get_weights(), model.get_weights()))
    assert race.order(0, 50).tolist() == race.order(0, 50).tolist()  # one order, whoever asks
    assert sorted(race.order(0, len(tiny.train))) == list(range(len(tiny.train)))
    assert not np.array_equal(race.order(0, 2000), race.order(2000, 4000))  # a new permutation per pass
    batch = tiny.train.x[race.order(0, 50)]
    crops = [np.asarray(m.get_layer("random_crop")(batch, training=True)) for m in [first, *others]]
    assert all(np.array_equal(crops[0], c) for c in crops[1:])
    assert not np.array_equal(crops[0], np.asarray(first.get_layer("random_crop")(batch, training=False)))


def test_chunks_end_on_whole_batches():
    race = Race.__new__(Race)
    race.budget_examples = 1000
    contestant = _adam("a", batch_size=128)
    assert race.chunk_end(contestant, 0, 300) == 384
    assert race.chunk_end(contestant, 384, 600) == 640
    assert race.chunk_end(contestant, 896, 1000) == 1000  # the last batch is partial


def test_identical_contestants_race_identically_and_runs_repeat(tiny):
    def race():
        return Race([_adam("a"), _adam("twin"), _sgd("b", 0.05)], tiny, budget_examples=600, eval_every_examples=300)

    first, second = race(), race()
    snap = _run(first)
    assert snap.status == "finished", snap.message
    a, twin, b = (snap.points[n] for n in ("a", "twin", "b"))
    assert [p.examples_seen for p in a] == [0, 300, 600]
    assert [(p.loss, p.validation_accuracy, p.test_accuracy) for p in a] == [
        (p.loss, p.validation_accuracy, p.test_accuracy) for p in twin
    ]
    assert a[1].loss != b[1].loss  # only the optimizer differs, and it shows
    states = [r.model.get_layer("random_crop").seed_generator.state.numpy().tolist() for r in first.runners]
    draws = 12 * training_parts()  # 12 batches of 50: one draw of crops per part of each
    assert states[0] == states[1] == states[2] and states[0][1] == draws
    again = _run(second)
    assert again.points["a"][1].loss == pytest.approx(a[1].loss, rel=1e-5)
    assert again.points["b"][1].loss == pytest.approx(b[1].loss, rel=1e-5)


def test_a_contestant_publishes_its_weights_at_the_end_of_each_chunk(tiny):
    race = Race([_sgd("a", 0.05)], tiny, budget_examples=300, eval_every_examples=100)
    assert _run(race).status == "finished"
    for published, final in zip(race.trained()[0].weights, race.runners[0].model.get_weights(), strict=True):
        np.testing.assert_array_equal(published, final)


def test_contestants_sharing_a_model_train_exactly_as_each_alone(tiny):
    """Contestants of one optimizer kind take turns on one compiled model, each with its own state."""
    from dataclasses import replace

    from mnist_core.training.model_pool import ModelPool

    def momentum(name, learning_rate, momentum):
        settings = OptimizerSettings("momentum", {"learning_rate": learning_rate, "momentum": momentum})
        return Contestant(name, settings, 40, 0.001, averaging=0.9)

    contestants = [
        _sgd("slow", 0.01),
        momentum("heavy", 0.01, 0.9),
        replace(_sgd("fast", 0.1), batch_size=64, weight_decay=0.01),
        momentum("light", 0.02, 0.5),
    ]
    pool = ModelPool(4)
    together = Race(contestants, tiny, budget_examples=500, eval_every_examples=200, pool=pool)
    snap = _run(together)
    assert snap.status == "finished", snap.message
    models = [run.model for run in together.runners]
    assert models[0] is models[2] and models[1] is models[3] and models[0] is not models[1]
    assert len(pool) == 2
    for contestant, trained in zip(contestants, together.trained(), strict=True):
        alone = Race([contestant], tiny, budget_examples=500, eval_every_examples=200, pool=ModelPool(0))
        alone_snap = _run(alone)
        assert [replace(p, train_seconds=0.0) for p in snap.points[contestant.name]] == [
            replace(p, train_seconds=0.0) for p in alone_snap.points[contestant.name]
        ]
        for a, b in zip(trained.weights, alone.trained()[0].weights, strict=True):
            np.testing.assert_array_equal(a, b)


# --- divergence, lifecycle, results ---


def test_a_diverging_contestant_stops_alone(tiny):
    # A rate of 100 diverges whatever crops the first batches draw; 10 does on some draws only.
    race = Race([_sgd("hot", 100.0), _adam("calm")], tiny, budget_examples=1000, eval_every_examples=500)
    snap = _run(race)
    assert snap.status == "finished", snap.message
    assert snap.statuses == {"hot": "diverged", "calm": "finished"}
    hot, calm = race.results()
    assert hot.status == "diverged" and 0 < hot.diverged_at < 1000
    assert snap.points["hot"][-1].examples_seen == hot.diverged_at
    assert calm.status == "finished" and snap.points["calm"][-1].examples_seen == 1000
    assert calm.diverged_at is None and calm.final_loss < 2.3
    text = summary_text(race.results())
    assert f"hot diverged after {hot.diverged_at:,} examples at learning rate 100" in text


def _settled(race) -> list[int]:
    """Examples per contestant once the batch in flight has finished.

    A contestant's first batch includes tracing its train step, which can take over a second on a busy
    machine, so "finished" means no progress for 2 s.
    """

    def quiet() -> bool:
        before = [r.examples for r in race.runners]
        time.sleep(2.0)
        return [r.examples for r in race.runners] == before

    wait_until(quiet, timeout=60)
    return [r.examples for r in race.runners]


def test_pause_resume_stop(tiny):
    race = Race([_adam("a"), _sgd("b", 0.05)], tiny, budget_examples=200_000, eval_every_examples=400)
    race.start()
    wait_until(lambda: race.runners and race.runners[0].examples > 200)
    race.pause()
    seen = _settled(race)
    time.sleep(1.0)
    assert race.view().status == "paused" and [r.examples for r in race.runners] == seen
    race.resume()
    wait_until(lambda: sum(r.examples for r in race.runners) > sum(seen) + 200)
    assert race.view().status == "running"
    race.stop()
    assert race.join(timeout=60)
    snap = race.view()
    assert snap.status == "stopped" and set(snap.statuses.values()) == {"stopped"}
    assert all(r.status == "stopped" and r.validation_accuracy is not None for r in race.results())
    assert "Stopped before the end of the budget: a, b." in summary_text(race.results())


def test_results_and_summary_carry_the_numbers(tiny):
    race = Race([_adam("adam"), _sgd("sgd", 0.01)], tiny, budget_examples=2000, eval_every_examples=1000)
    snap = _run(race)
    adam, sgd = race.results()
    last = snap.points["adam"][-1]
    assert (adam.final_loss, adam.validation_accuracy, adam.test_accuracy) == (
        last.loss,
        last.validation_accuracy,
        last.test_accuracy,
    )
    assert adam.train_seconds == last.train_seconds > 0 and math.isfinite(adam.final_loss)
    assert adam.test_accuracy > sgd.test_accuracy  # Adam at 1e-3 beats plain SGD at 1e-2 over 2,000 examples
    for result in (adam, sgd):
        reached = [p.examples_seen for p in snap.points[result.name] if p.validation_accuracy >= 0.97]
        assert result.examples_to_97 == (reached[0] if reached else None)
    text = summary_text([adam, sgd])
    assert f"Best final test accuracy: adam, {adam.test_accuracy:.2%}" in text
    assert f"Lowest: sgd, {sgd.test_accuracy:.2%}" in text
    assert "No contestant reached 97%" in text or "reached 9" in text


def test_summary_names_who_reached_98_first():
    def result(name, to_97, to_98, test):
        from mnist_core.training.race_results import ContestantResult

        return ContestantResult(name, "Adam", 0.001, 128, 0.1, 0.98, test, to_97, to_98, 10.0, "finished", None)

    text = summary_text(
        [result("x", 5000, 20000, 0.981), result("y", 4000, 15000, 0.985), result("z", 9000, None, 0.9)]
    )
    assert text.startswith("y reached 98% validation accuracy first, after 15,000 examples; 1 other got there too.")
    assert "Best final test accuracy: y, 98.50%" in text and "Lowest: z, 90.00%" in text


def test_contestants_are_runs_of_the_engine_with_pooled_models_and_their_own_averaging(tiny):
    from dataclasses import replace

    from mnist_core.training.model_pool import ModelPool

    rows = contestant_rows([_adam("plain"), replace(_adam("averaged"), averaging=0.9)])
    contestants, errors = validate_contestants(rows)
    assert not errors and [c.averaging for c in contestants] == [0.0, 0.9]
    rows[1]["averaging"] = 1.5
    assert "Weight averaging" in validate_contestants(rows)[1][1]
    pool = ModelPool(4)
    race = Race(contestants, tiny, budget_examples=300, eval_every_examples=300, pool=pool)
    snap = _run(race)
    assert snap.status == "finished", snap.message
    assert [r.model.optimizer.use_ema for r in race.runners] == [False, True]
    assert len(pool) == 2  # both compiled models went back to the pool
    again = Race([_adam("next")], tiny, budget_examples=100, pool=pool)
    again.prepare()
    assert again.runners[0].model is race.runners[0].model  # the kept model of the same optimizer, reset
