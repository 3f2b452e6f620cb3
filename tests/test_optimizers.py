"""mnist_core.model.optimizers: a finished job's training graph can be collected (no process-wide leftovers)."""

from __future__ import annotations

import gc

import numpy as np
import pytest
from tensorflow.python.framework import ops
from tensorflow.python.framework.func_graph import FuncGraph

from mnist_core.model.architecture import build_model
from mnist_core.model.optimizers import build_optimizer
from mnist_core.settings import OPTIMIZERS, default_optimizer

TINY_NET = [
    {"type": "conv", "filters": 2, "kernel": 3, "stride": 1, "padding": "valid", "activation": "relu"},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


def _train_once(name: str) -> None:
    """A fresh model and optimizer, fitted for one small batch (one traced train step), then dropped."""
    model = build_model(TINY_NET, seed=1)
    model.compile(optimizer=build_optimizer(default_optimizer(name)), loss="sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    x, y = rng.random((8, 28, 28, 1), dtype=np.float32), rng.integers(0, 10, 8)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


def _custom_gradients() -> int:
    return sum(key.startswith("CustomGradient") for key in ops._gradient_registry.list())


def _train_graphs() -> int:
    gc.collect()
    return sum(isinstance(o, FuncGraph) and o.name == "one_step_on_data" for o in gc.get_objects())


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_a_finished_fit_leaves_no_graph_behind(name: str) -> None:
    _train_once(name)  # first use: TensorFlow's own one-off registrations
    registered, graphs = _custom_gradients(), _train_graphs()
    for _ in range(3):
        _train_once(name)
    # Keras's replica sum would register a gradient per trace, which holds that trace's graph forever.
    assert _custom_gradients() == registered
    assert _train_graphs() <= graphs


def test_training_still_moves_the_weights_the_same_way() -> None:
    """Without the replica sum, one SGD step is still weights - learning_rate * gradient."""
    import keras

    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")])
    model.compile(optimizer=build_optimizer(default_optimizer("sgd")), loss="mse")
    x, y = np.array([[1.0, 2.0, 3.0]], np.float32), np.array([[0.0]], np.float32)
    rate = OPTIMIZERS["sgd"].fields["learning_rate"]
    model.fit(x, y, epochs=1, verbose=0)
    expected = 1.0 - rate * 2 * 6.0 * x[0]  # d(mse)/dw = 2 * (w.x - y) * x, with w.x = 6
    np.testing.assert_allclose(model.get_weights()[0][:, 0], expected, rtol=1e-5)
