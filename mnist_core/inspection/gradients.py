"""Each layer's gradients of the loss on a batch: with respect to its output and to its weights (one backward pass).

The loss is the mean cross-entropy of the centre crops (the L2 term aside), as a training step sees it without
the random crop. The last layer's output gradient is taken before its softmax (the scores): that is where the
backward pass starts, p - onehot(label).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf


# eq=False: the generated __eq__ would compare numpy arrays and raise.
@dataclass(frozen=True, eq=False)
class LayerGradient:
    """One layer's gradients; `values`, `minimum`, `maximum` and `shape` read like a LayerActivation's."""

    name: str
    kind: str
    shape: tuple[int, ...]  # of the output, without the batch axis
    values: np.ndarray  # d(the example's own loss) / d(this layer's output), for the example shown
    minimum: float
    maximum: float
    weights: np.ndarray | None  # d(mean loss over the batch) / d(kernel); None for a layer without weights
    weights_minimum: float = 0.0
    weights_maximum: float = 0.0

    @property
    def limit(self) -> float:
        """One symmetric colour scale for the output gradient: its largest magnitude."""
        return max(abs(self.minimum), abs(self.maximum))

    @property
    def weights_limit(self) -> float:
        return max(abs(self.weights_minimum), abs(self.weights_maximum))


@dataclass(frozen=True, eq=False)
class Gradients:
    loss: float  # mean cross-entropy over the batch
    example: int  # the batch row whose output gradients `layers` hold
    batch: int
    layers: list[LayerGradient]


def backward(
    rescale: list[keras.layers.Layer], layers: list[keras.layers.Layer], crops: tf.Tensor, labels: tf.Tensor
) -> tuple[tf.Tensor, list[tf.Tensor], list[tf.Tensor]]:
    """The mean loss, d(loss)/d(each layer's output) and d(loss)/d(each kernel) (zeros for layers without one)."""
    with tf.GradientTape() as tape:
        x = crops
        for layer in rescale:
            x = layer(x)
        outputs = []
        for layer in layers[:-1]:
            x = layer(x, training=False)
            outputs.append(x)
        last = layers[-1]
        logits = tf.matmul(x, last.kernel) + last.bias  # every network here ends in dense + softmax
        outputs.append(logits)
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
    kernels = [layer.kernel for layer in layers if getattr(layer, "kernel", None) is not None]
    output_grads, kernel_grads = tape.gradient(loss, [outputs, kernels])
    return loss, output_grads, kernel_grads


def gradients_of(
    names: list[str],
    kinds: list[str],
    layers: list[keras.layers.Layer],
    result: tuple[tf.Tensor, list[tf.Tensor], list[tf.Tensor]],
    batch: int,
    example: int = 0,
) -> Gradients:
    """Numpy views of backward's result: `example`'s output gradients (of its own loss), the batch's kernel ones."""
    loss, output_grads, kernel_grads = result
    kernels = iter(kernel_grads)
    out = []
    for name, kind, layer, grad in zip(names, kinds, layers, output_grads):
        # The mean's gradient is 1/batch of each example's own: scale back to the example's own loss.
        values = grad.numpy()[example] * batch
        weights = next(kernels).numpy() if getattr(layer, "kernel", None) is not None else None
        low, high = (float(weights.min()), float(weights.max())) if weights is not None else (0.0, 0.0)
        out.append(
            LayerGradient(
                name, kind, values.shape, values, float(values.min()) + 0.0, float(values.max()) + 0.0, weights,
                low + 0.0, high + 0.0,
            )
        )  # fmt: skip
    return Gradients(float(loss.numpy()), example, batch, out)
