"""A batch split into parts trains exactly as the whole batch would: same loss, same updated weights."""

import numpy as np
import pytest

from mnist_core.model import crop
from mnist_core.model.architecture import PRESETS
from mnist_core.settings import TrainSettings, default_optimizer
from mnist_core.training.model_pool import new_training_model
from mnist_core.training.replicas import SplitBatchModel

pytestmark = pytest.mark.timeout(300)


def _centre_crops_only(monkeypatch):
    # Each part draws its own random crops; with the crops fixed, the split is the only difference left.
    centre = crop.RandomCrop2D.call
    monkeypatch.setattr(crop.RandomCrop2D, "call", lambda self, inputs, training=None: centre(self, inputs, False))


@pytest.mark.parametrize(
    ("name", "size"), [("adadelta", 50), ("momentum", 37), ("adam", 3), ("adadelta", 2), ("sgd", 1)]
)
def test_parts_train_as_the_whole_batch(mnist, monkeypatch, name, size):
    _centre_crops_only(monkeypatch)
    settings = TrainSettings(optimizer=default_optimizer(name), seed=3)
    whole, split = (new_training_model(PRESETS[settings.preset], settings) for _ in range(2))
    assert isinstance(split.model, SplitBatchModel)
    whole.model.parts, split.model.parts = 1, 3
    for held in (whole, split):
        held.decay.assign(0.001 / (2 * size))  # the L2 term counts once, whatever the parts
    split.model.set_weights(whole.model.get_weights())
    x, y = mnist.train.x[:size], mnist.train.y[:size]
    for _ in range(3):
        a = whole.model.train_on_batch(x, y, return_dict=True)
        b = split.model.train_on_batch(x, y, return_dict=True)
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-5) and b["accuracy"] == a["accuracy"]
    for w, v in zip(whole.model.get_weights(), split.model.get_weights(), strict=True):
        np.testing.assert_allclose(v, w, rtol=1e-4, atol=1e-5)
    assert not np.allclose(
        whole.model.get_weights()[-2], new_training_model(PRESETS["convnetjs"], settings).model.get_weights()[-2]
    )


@pytest.mark.parametrize("size", [1, 2, 4, 7])
def test_each_example_is_predicted_once_in_order_whatever_the_parts(mnist, monkeypatch, size):
    """A part without an example of its own runs one with weight 0: its prediction is not among the batch's."""
    _centre_crops_only(monkeypatch)
    held = new_training_model(PRESETS["convnetjs"], TrainSettings(seed=2))
    x, y = mnist.train.x[:size], mnist.train.y[:size]
    expected = held.model(x, training=True).numpy()
    for parts in (1, 3, 5):
        gradients, loss, predicted = held.model._gradients(x, y, parts)
        np.testing.assert_allclose(predicted.numpy(), expected, rtol=1e-5, atol=1e-6)
        assert all(np.all(np.isfinite(g.numpy())) for g in gradients) and np.isfinite(float(loss))


@pytest.mark.parametrize("name", ["adadelta", "adam"])
def test_the_training_loop_trains_its_batches_as_keras_steps_one_at_a_time(mnist, name):
    """train_batches (the engine's traced loop over a group of batches) against Keras's own train_on_batch: the
    same random crops, weights, optimizer state and running means after the group."""
    settings = TrainSettings(optimizer=default_optimizer(name), averaging=0.99, seed=4)
    loop, keras_steps = (new_training_model(PRESETS[settings.preset], settings) for _ in range(2))
    for held in (loop, keras_steps):
        held.decay.assign(0.001 / (2 * 32))
    x, y = mnist.train.x[: 5 * 32], mnist.train.y[: 5 * 32]
    logs = loop.model.train_batches(x.reshape(5, 32, 28, 28), y.reshape(5, 32))
    steps = [
        keras_steps.model.train_on_batch(x[i * 32 : (i + 1) * 32], y[i * 32 : (i + 1) * 32], return_dict=True)
        for i in range(5)
    ]  # each call's logs are its batch's alone; the loop's are the means over its group
    assert float(logs["loss"]) == pytest.approx(np.mean([s["loss"] for s in steps]), rel=1e-5)
    assert float(logs["accuracy"]) == pytest.approx(np.mean([s["accuracy"] for s in steps]))
    assert int(loop.model.optimizer.iterations.numpy()) == 5
    for a, b in zip(loop.model.variables + loop.model.optimizer.variables,
                    keras_steps.model.variables + keras_steps.model.optimizer.variables, strict=True):  # fmt: skip
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-4, atol=1e-6)
    short = loop.model.train_batches(x[None, :7], y[None, :7])  # a short last batch alone: no new trace
    assert np.isfinite(float(short["loss"])) and loop.model.batch_trainer().experimental_get_tracing_count() == 1
