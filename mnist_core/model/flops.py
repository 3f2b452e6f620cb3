"""The arithmetic a training example costs: multiply-adds of the conv and dense layers, forward and backward."""

from __future__ import annotations

import math

import keras

from mnist_core.model.architecture import core_of

COUNTED = (keras.layers.Conv2D, keras.layers.Dense)


def forward_macs(model: keras.Model, kinds: tuple[type, ...] = COUNTED) -> list[int]:
    """Multiply-adds per example of each layer of `kinds` (Conv2D, Dense or both) behind the crop, in order."""
    macs = []
    for layer in core_of(model).layers:
        if not isinstance(layer, kinds):
            continue
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, _ = layer.output.shape
            macs.append(height * width * math.prod(layer.kernel.shape))
        else:
            macs.append(math.prod(layer.kernel.shape))
    return macs


def training_flops(model: keras.Model, kinds: tuple[type, ...] = COUNTED) -> int:
    """FLOPs of one example's forward and backward pass (2 per multiply-add; pooling and activations left out).

    Backward costs a weight gradient per layer (as much as its forward) and an input gradient for every layer
    but the first, which has no trainable layer in front of it to pass one to.
    """
    macs = forward_macs(model, kinds)
    return 2 * (2 * sum(macs) + sum(macs[1:]))
