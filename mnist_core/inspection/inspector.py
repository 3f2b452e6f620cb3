"""Look inside a network: every layer's activations for one digit, a saliency map, and the conv filters."""

from __future__ import annotations

import threading
from contextlib import nullcontext
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from mnist_core.inspection.gradients import Gradients, backward, gradients_of
from mnist_core.model.architecture import core_of
from mnist_core.model.crop import CENTER_OFFSET, CROP_SIZE, INPUT_SIZE, grid_offsets

_KINDS = {
    keras.layers.Conv2D: "conv",
    keras.layers.MaxPooling2D: "maxpool",
    keras.layers.AveragePooling2D: "avgpool",
    keras.layers.Dense: "dense",
    keras.layers.Dropout: "dropout",
    keras.layers.BatchNormalization: "batchnorm",
    keras.layers.Flatten: "flatten",
}


# eq=False: the generated __eq__ would compare numpy arrays and raise.
@dataclass(frozen=True, eq=False)
class LayerActivation:
    name: str
    kind: str  # "input", "conv", "maxpool", "avgpool", "dense", "flatten", "dropout", "batchnorm" or a class name
    shape: tuple[int, ...]  # without the batch axis
    values: np.ndarray  # (h, w, c) for maps, (n,) for vectors
    minimum: float
    maximum: float


@dataclass(frozen=True, eq=False)
class Saliency:
    # (28, 28) float32: d(score of `predicted`, averaged over the crops) / d(input pixel, 0..255 scale). The score
    # (the logit before the softmax) rather than the probability: a confident probability is flat (gradient ~1e-8).
    map: np.ndarray
    predicted: int
    probability: float  # the crop-averaged probability of `predicted`
    offsets: np.ndarray  # (k, 2) (row, col) of the crops averaged


@dataclass(frozen=True, eq=False)
class FilterBank:
    name: str
    kernels: np.ndarray  # (kh, kw, cin, cout)
    bias: np.ndarray | None  # (cout,)
    limit: float  # max |kernel weight| in the layer: one symmetric colour scale for all its filters


def layer_kind(layer: keras.layers.Layer) -> str:
    """Short kind of a core layer ("conv", "maxpool", ...); the lower-cased class name if unknown."""
    for cls, kind in _KINDS.items():
        if isinstance(layer, cls):
            return kind
    return type(layer).__name__.lower()


class Inspector:
    """Traced views of a build_model network; they read its variables, so they follow set_weights."""

    def __init__(self, model: keras.Model, lock: threading.Lock | None = None):
        core = core_of(model)
        # The Rescaling layer's output is the input crop / 255: the crop itself stands in for it.
        self._layers = [layer for layer in core.layers if not isinstance(layer, keras.layers.Rescaling)]
        self._rescale = [layer for layer in core.layers if isinstance(layer, keras.layers.Rescaling)]
        self._core = core
        self._names = ["input", *(layer.name for layer in self._layers)]
        self._kinds = ["input", *(layer_kind(layer) for layer in self._layers)]
        self._convs = [layer for layer in self._layers if isinstance(layer, keras.layers.Conv2D)]
        self._lock = lock or nullcontext()
        crops = tf.TensorSpec((None, CROP_SIZE, CROP_SIZE, 1), tf.float32)
        image = tf.TensorSpec((INPUT_SIZE, INPUT_SIZE), tf.float32)
        offsets = tf.TensorSpec((None, 2), tf.int32)
        # Traced once each with a fixed signature: a call then costs about a millisecond, not a retrace.
        self._all_outputs = tf.function(self._outputs, input_signature=[crops])
        self._gradient = tf.function(self._saliency, input_signature=[image, offsets])
        labels = tf.TensorSpec((None,), tf.int32)
        self._backward = tf.function(
            lambda x, y: backward(self._rescale, self._layers, x, y), input_signature=[crops, labels]
        )

    def _outputs(self, crops: tf.Tensor) -> list[tf.Tensor]:
        outputs = [crops]
        x = crops
        for layer in self._rescale:
            x = layer(x)
        for layer in self._layers:
            x = layer(x, training=False)
            outputs.append(x)
        return outputs

    def _saliency(self, image: tf.Tensor, offsets: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            tape.watch(image)
            window = tf.range(CROP_SIZE)
            rows = offsets[:, :1] + window  # (k, 24)
            cols = offsets[:, 1:] + window
            # Gathering from the flat float image keeps the crops differentiable wrt every 28x28 pixel.
            index = rows[:, :, None] * INPUT_SIZE + cols[:, None, :]
            crops = tf.gather(tf.reshape(image, (-1,)), index)[..., None]  # (k, 24, 24, 1)
            logits = self._logits(crops)
            mean = tf.reduce_mean(tf.nn.softmax(logits), axis=0)
            predicted = tf.argmax(mean, output_type=tf.int32)
            score = tf.reduce_mean(logits[:, predicted])
        return tape.gradient(score, image), predicted, mean[predicted]

    def _logits(self, crops: tf.Tensor) -> tf.Tensor:
        """The scores the final softmax turns into probabilities (every network here ends in dense + softmax)."""
        x = crops
        for layer in self._rescale:
            x = layer(x)
        for layer in self._layers[:-1]:
            x = layer(x, training=False)
        last = self._layers[-1]
        return tf.matmul(x, last.kernel) + last.bias

    def class_scores(self, image28: np.ndarray, k: int = 4) -> np.ndarray:
        """The pre-softmax scores (10,), averaged over the first k grid crops: what saliency differentiates."""
        offsets = grid_offsets(1, k)[0]
        crops = np.stack([np.asarray(image28, np.float32)[r : r + CROP_SIZE, c : c + CROP_SIZE] for r, c in offsets])
        with self._lock:
            return self._logits(tf.constant(crops[..., None])).numpy().mean(axis=0)

    def activations(self, image28: np.ndarray) -> list[LayerActivation]:
        """Every layer's output for the centre crop of a (28, 28) image, the 24x24 crop itself first."""
        c = CENTER_OFFSET
        crop = np.asarray(image28, dtype=np.float32)[c : c + CROP_SIZE, c : c + CROP_SIZE]
        with self._lock:
            outputs = self._all_outputs(tf.constant(crop[None, :, :, None]))
            arrays = [output.numpy()[0] for output in outputs]
        # + 0.0 turns the -0.0 that max pooling can yield into 0.0, so labels never read "-0.00".
        return [
            LayerActivation(name, kind, values.shape, values, float(values.min()) + 0.0, float(values.max()) + 0.0)
            for name, kind, values in zip(self._names, self._kinds, arrays)
        ]

    def saliency(self, image28: np.ndarray, k: int = 4) -> Saliency:
        """Gradient of the predicted class's score, averaged over the first k grid crops, wrt the pixels."""
        if k < 1:
            raise ValueError(f"saliency needs at least one crop, got k={k}")
        offsets = grid_offsets(1, k)[0].astype(np.int32)
        image = tf.constant(np.asarray(image28, dtype=np.float32))
        with self._lock:
            gradient, predicted, probability = self._gradient(image, tf.constant(offsets))
            gradient = gradient.numpy()
        return Saliency(gradient.astype(np.float32), int(predicted), float(probability), offsets)

    def filters(self) -> list[FilterBank]:
        """Kernels and biases of every conv layer, in order."""
        with self._lock:
            weights = [(layer.name, layer.kernel.numpy(), layer.bias) for layer in self._convs]
            weights = [(name, kernel, None if bias is None else bias.numpy()) for name, kernel, bias in weights]
        return [FilterBank(name, kernel, bias, float(np.abs(kernel).max())) for name, kernel, bias in weights]

    def gradients(self, images28: np.ndarray, labels: np.ndarray, example: int = 0) -> Gradients:
        """Every layer's loss gradients for the centre crops of (n, 28, 28) images with these labels."""
        c = CENTER_OFFSET
        images = np.asarray(images28, dtype=np.float32).reshape(-1, INPUT_SIZE, INPUT_SIZE)
        crops = tf.constant(images[:, c : c + CROP_SIZE, c : c + CROP_SIZE, None])
        y = tf.constant(np.asarray(labels, dtype=np.int32).reshape(-1))
        with self._lock:
            result = self._backward(crops, y)
            return gradients_of(self._names[1:], self._kinds[1:], self._layers, result, len(images), example)
