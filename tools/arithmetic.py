"""What the machine's arithmetic allows the engine: numpy's float32 matrix product, the same product on the
matrices the net's convolutions lower to, and TensorFlow's convolution kernels alone at the training shapes.

The last two bound any training step of this net: pooling, activations, the crop, the loss and the optimizer add
time and no counted arithmetic, and a convolution lowered to a matrix product does at least that product.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import keras
import numpy as np

from mnist_core.model.architecture import core_of
from mnist_core.model.flops import training_flops

CONV = (keras.layers.Conv2D,)


def best_seconds(call: Callable[[], object], seconds: float = 2.0) -> float:
    """The fastest of repeated calls over about `seconds` (at least two calls)."""
    best, deadline, calls = float("inf"), time.perf_counter() + seconds, 0
    while calls < 2 or time.perf_counter() < deadline:
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
        calls += 1
    return best


def matmul_gflops(n: int = 1024, seconds: float = 2.0) -> float:
    """numpy's float32 n x n matrix product, the best rate of repeated products over about `seconds`."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    return 2 * n**3 / best_seconds(lambda: a @ b, seconds) / 1e9


def convolutions(model: keras.Model) -> list[keras.layers.Conv2D]:
    return [layer for layer in core_of(model).layers if isinstance(layer, CONV)]


def lowered_products(model: keras.Model, batch_size: int) -> list[tuple[int, int, int]]:
    """(m, k, n) of each matrix product a training step's convolutions lower to (im2col): per layer the forward
    pass and the weight gradient, and the input gradient for every layer but the first."""
    shapes = []
    for index, layer in enumerate(convolutions(model)):
        _, height, width, filters = layer.output.shape
        rows, inputs = batch_size * height * width, int(np.prod(layer.kernel.shape[:3]))
        shapes += [(rows, inputs, filters), (inputs, rows, filters)]
        if index > 0:
            shapes.append((rows, filters, inputs))
    return shapes


def lowered_matmul_gflops(model: keras.Model, batch_size: int, seconds: float = 0.5) -> float:
    """numpy's float32 rate over the products of `lowered_products`, each the best of about `seconds`."""
    rng = np.random.default_rng(0)
    flops = total = 0.0
    for m, k, n in lowered_products(model, batch_size):
        a = rng.standard_normal((m, k), dtype=np.float32)
        b = rng.standard_normal((k, n), dtype=np.float32)
        total += best_seconds(lambda a=a, b=b: a @ b, seconds)
        flops += 2 * m * k * n
    return flops / total / 1e9


def convolution_step(model: keras.Model, batch_size: int):
    """A traced step of the model's convolutions on random tensors of their training shapes.

    It returns every result, since a traced function leaves out the ops whose results nobody uses.
    """
    import tensorflow as tf

    convs = convolutions(model)
    rng = tf.random.Generator.from_seed(0)
    inputs = [rng.normal((batch_size, *layer.input.shape[1:])) for layer in convs]
    kernels = [rng.normal(tuple(layer.kernel.shape)) for layer in convs]
    upstream = [rng.normal((batch_size, *layer.output.shape[1:])) for layer in convs]

    @tf.function
    def step() -> list:
        with tf.GradientTape() as tape:
            tape.watch(inputs[1:] + kernels)
            outputs = [
                tf.nn.conv2d(x, k, layer.strides, layer.padding.upper())
                for x, k, layer in zip(inputs, kernels, convs, strict=True)
            ]
        return outputs + tape.gradient(outputs, kernels + inputs[1:], output_gradients=upstream)

    return step


def convolution_ceiling(model: keras.Model, batch_size: int, steps: int = 100, seconds: float = 2.0) -> dict:
    """GFLOP/s of the model's convolutions alone, forward and backward: the best pass of `steps` steps."""
    step = convolution_step(model, batch_size)
    step()  # traces it
    best = best_seconds(lambda: [step() for _ in range(steps)], seconds) / steps
    flops = batch_size * training_flops(model, kinds=CONV)
    return {"batch_size": batch_size, "ms_per_step": round(best * 1000, 3), "gflops": round(flops / best / 1e9, 1)}
