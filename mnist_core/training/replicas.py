"""The training model's step: each batch split into independent parts whose gradients are summed.

With one intra-op thread per kernel (mnist_core.runtime.threads), a single chain of small convolutions keeps one
core busy at a time; parts of a batch that share nothing until their gradients are summed are separate branches
of the traced step, which TensorFlow's inter-op threads run side by side, one per core. The sum is the whole
batch's gradient (each part's cross-entropy is summed and divided by the whole batch's size, and each part
carries its share of the L2 term), so a step trains as one on the whole batch would; only the random crops are
drawn per part.
"""

from __future__ import annotations

import keras
import tensorflow as tf


class SplitBatchModel(keras.Model):
    """A functional model whose train step runs `parts` slices of each batch as separate branches.

    Built around an existing model's graph (`SplitBatchModel(inputs=m.inputs, outputs=m.outputs, parts=2)`), so
    it shares that model's layers and weights. Its loss is sparse categorical cross-entropy plus the layers'
    regularization losses; its metrics are the compiled ones.
    """

    def __init__(self, *args, parts: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.parts = max(1, int(parts))

    def train_step(self, data):
        x, y = data[0], data[1]
        if self.parts == 1:
            gradients, loss, predicted = self._gradients(x, y, 1)
        else:  # a batch smaller than the parts (a short last batch) trains whole: an empty part cannot run
            gradients, loss, predicted = tf.cond(
                tf.shape(y)[0] >= self.parts,
                lambda: self._gradients(x, y, self.parts),
                lambda: self._gradients(x, y, 1),
            )
        self.optimizer.apply(gradients, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=tf.shape(y)[0])
        return self.compute_metrics(x, y, predicted, sample_weight=None)

    def _gradients(self, x, y, parts: int):
        """The whole batch's loss gradients, loss and predictions, computed in `parts` independent branches."""
        size = tf.shape(y)[0]
        total = tf.cast(size, "float32")
        bounds = [size * i // parts for i in range(parts + 1)]
        weights = self.trainable_variables
        gradients, loss, predictions = None, tf.constant(0.0), []
        for start, end in zip(bounds, bounds[1:]):
            share = tf.cast(end - start, "float32") / total
            with tf.GradientTape() as tape:
                predicted = self(x[start:end], training=True)
                # The part's cross-entropy over the whole batch's size, and its share of the L2 term.
                part = tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y[start:end], predicted)) / total
                if self.losses:
                    part += share * tf.add_n(self.losses)
            grads = tape.gradient(part, weights)
            gradients = grads if gradients is None else [a + b for a, b in zip(gradients, grads, strict=True)]
            loss += part
            predictions.append(predicted)
        return gradients, loss, tf.concat(predictions, axis=0)
