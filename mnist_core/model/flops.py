"""The arithmetic a training example costs: multiply-adds of the conv and dense layers, forward and backward."""

from __future__ import annotations

import math

import keras

from mnist_core.model.architecture import core_of


def forward_macs(model: keras.Model) -> list[int]:
    """Multiply-adds per example of each conv and dense layer behind the crop, in order."""
    macs = []
    for layer in core_of(model).layers:
        if isinstance(layer, keras.layers.Conv2D):
            _, height, width, _ = layer.output.shape
            macs.append(height * width * math.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Dense):
            macs.append(math.prod(layer.kernel.shape))
    return macs


def training_flops(model: keras.Model) -> int:
    """FLOPs of one example's forward and backward pass (2 per multiply-add; pooling and activations left out).

    Backward costs a weight gradient per layer (as much as its forward) and an input gradient for every layer
    but the first, which has no trainable layer in front of it to pass one to.
    """
    macs = forward_macs(model)
    return 2 * (2 * sum(macs) + sum(macs[1:]))
