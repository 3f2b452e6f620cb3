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
