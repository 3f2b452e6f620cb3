"""The training model's step: each batch split into independent parts whose gradients are summed.

With one intra-op thread per kernel (mnist_core.runtime.threads), a single chain of small convolutions keeps one
core busy at a time; parts of a batch that share nothing until their gradients are summed are separate branches
of the traced step, which TensorFlow's inter-op threads run side by side, one per core. The sum is the whole
batch's gradient (each part's cross-entropy is summed and divided by the whole batch's size; the L2 term and its
gradient are taken once, beside the parts), so a step trains as one on the whole batch would; only the random
crops are drawn per part.

The engine calls `train_batches`, not Keras's fit: one traced loop over a group of batches handed over as one
tensor. Keras's fit feeds its loop from a dataset iterator through optionals and a conditional per step, whose
bookkeeping TensorFlow's executor walks on one thread between steps while the other core waits.
"""

from __future__ import annotations

import keras
import numpy as np
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
        self._train_batches = None  # traced by the first call of batch_trainer

    def train_batches(self, images, labels) -> dict:
        """Train on `images` (G, B, 28, 28) and `labels` (G, B): G steps in order, one batch of B each.

        Returns the last step's logs: the running means of the loss and metrics since `reset_metrics`, as Keras's
        fit reports them.
        """
        return self.batch_trainer()(images, np.asarray(labels, np.int32))

    @property
    def traced(self) -> bool:
        """Whether the training loop has been traced (by a call, or by batch_trainer)."""
        return self._train_batches is not None

    def batch_trainer(self):
        """The traced loop `train_batches` runs, traced now if it has not been (with a signature, so TensorFlow's
        retracing warning, which counts traces made by calls, never counts it)."""
        if self._train_batches is None:
            self._train_batches = self._trace_batch_trainer()
        return self._train_batches

    def _trace_batch_trainer(self):
        image = self.inputs[0]
        signature = [
            tf.TensorSpec((None, None, *image.shape[1:]), image.dtype),
            tf.TensorSpec((None, None), tf.int32),
        ]
        # The metrics' variables are made now, eagerly: a traced loop may not create them.
        one = tf.zeros((1, *image.shape[1:]), image.dtype)
        self.compute_metrics(one, tf.zeros((1,), tf.int32), self(one, training=False), sample_weight=None)
        self.reset_metrics()

        @tf.function(input_signature=signature)
        def train(images, labels):
            def step(i, logs):
                return i + 1, self.train_step((images[i], labels[i]))

            count = tf.shape(images)[0]
            _, logs = tf.while_loop(lambda i, _: i < count, step, (tf.constant(0), self.get_metrics_result()))
            return logs

        train.get_concrete_function()
        return train

    def train_step(self, data):
        x, y = data[0], data[1]
        gradients, loss, predicted = self._gradients(x, y, self.parts)
        self.optimizer.apply(gradients, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=tf.shape(y)[0])
        return self.compute_metrics(x, y, predicted, sample_weight=None)

    def _gradients(self, x, y, parts: int):
        """The whole batch's loss gradients, loss and predictions, computed in `parts` independent branches.

        A batch smaller than its parts (a short last batch) leaves some parts without an example of their own:
        such a part runs the next part's first example with weight 0, since a kernel cannot run on an empty batch,
        and a branch that skipped it (a tf.cond) would cost every step the executor's time for its untaken side.
        """
        size = tf.shape(y)[0]
        total = tf.cast(size, "float32")
        weights = self.trainable_variables
        gradients, loss, predictions = None, tf.constant(0.0), []
        for i in range(parts):
            start, end = size * i // parts, size * (i + 1) // parts  # start < size, since i < parts
            count = end - start  # 0 for a part with no example of its own
            own = tf.cast(count > 0, "float32")
            end = tf.maximum(end, start + 1)
            with tf.GradientTape() as tape:
                predicted = self(x[start:end], training=True)
                # The part's cross-entropy over the whole batch's size.
                part = own * tf.reduce_sum(keras.losses.sparse_categorical_crossentropy(y[start:end], predicted))
                part /= total
            grads = tape.gradient(part, weights)
            gradients = grads if gradients is None else [a + b for a, b in zip(gradients, grads, strict=True)]
            loss += part
            predictions.append(predicted[:count])
        if self.losses:
            with tf.GradientTape() as tape:
                penalty = tf.add_n(self.losses)
            decay = tape.gradient(penalty, weights)
            gradients = [g if d is None else g + d for g, d in zip(gradients, decay, strict=True)]
            loss += penalty
        return gradients, loss, tf.concat(predictions, axis=0)
