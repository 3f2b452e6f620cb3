"""The model's first layer: a random 24x24 crop per example when training, the centre crop otherwise."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
from numpy.lib.stride_tricks import sliding_window_view

from mnist_core.data.geometry import CENTER_OFFSET, CROP_SIZE, INPUT_SIZE, MAX_OFFSET

__all__ = ["CENTER_OFFSET", "CROP_SIZE", "INPUT_SIZE", "MAX_OFFSET", "RandomCrop2D", "crop_keys", "crops_at",
           "crops_by_key", "grid_offsets", "random_offsets"]  # fmt: skip


@keras.saving.register_keras_serializable(package="mnist_live")
class RandomCrop2D(keras.layers.Layer):
    """Crop (B, 28, 28[, C]) images to (B, 24, 24, C) float32.

    Unlike keras.layers.RandomCrop, each example gets its own offset, and inference
    returns the centre crop (so the layers behind it always see 24x24).
    """

    def __init__(self, size: int = CROP_SIZE, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.size = size
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=None):
        images = inputs if inputs.shape.rank == 4 else inputs[..., None]
        size, side = self.size, images.shape[1]
        max_offset = side - size
        if not training:
            start = max_offset // 2
            return tf.cast(images[:, start : start + size, start : start + size, :], "float32")
        batch = tf.shape(images)[0]
        offsets = keras.random.randint((batch, 2), 0, max_offset + 1, seed=self.seed_generator)
        window = tf.range(size)
        rows = offsets[:, :1] + window  # (B, size)
        cols = offsets[:, 1:] + window
        # Whole rows move as blocks, twice (the columns as rows of the transposed image): cheaper than a gather
        # of each pixel. The pixels, and so the crops, are exactly the same.
        picked = tf.gather(images, rows, axis=1, batch_dims=1)  # (B, size, side, C)
        across = tf.gather(tf.transpose(picked, (0, 2, 1, 3)), cols, axis=1, batch_dims=1)  # (B, size, size, C)
        return tf.cast(tf.transpose(across, (0, 2, 1, 3)), "float32")

    def compute_output_shape(self, input_shape):
        channels = input_shape[3] if len(input_shape) == 4 else 1
        return (input_shape[0], self.size, self.size, channels)

    def get_config(self):
        return {**super().get_config(), "size": self.size, "seed": self.seed}


def crops_at(images: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Crop images (N, 28, 28) at offsets (N, k, 2) (row, col) into (N, k, 24, 24)."""
    return crops_by_key(images, crop_keys(offsets))


def crop_keys(offsets: np.ndarray) -> np.ndarray:
    """One integer per crop of offsets (N, k, 2), the same for the same image and offset: (N, k)."""
    side = MAX_OFFSET + 1
    return (np.arange(len(offsets))[:, None] * side + offsets[..., 0]) * side + offsets[..., 1]


def crops_by_key(images: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The crops that crop_keys numbered `keys` for these images: keys of shape S give crops (*S, 24, 24)."""
    side = MAX_OFFSET + 1
    image, rest = np.divmod(keys, side * side)
    windows = sliding_window_view(images, (CROP_SIZE, CROP_SIZE), axis=(1, 2))  # (N, 5, 5, 24, 24)
    return windows[image, rest // side, rest % side]


def random_offsets(n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """k independent (row, col) crop offsets for each of n images."""
    return rng.integers(0, MAX_OFFSET + 1, size=(n, k, 2))


def grid_offsets(n: int, k: int) -> np.ndarray:
    """k fixed offsets spread over the 5x5 grid: centre first, then corners, then edges."""
    order = [(2, 2), (0, 0), (4, 4), (0, 4), (4, 0), (2, 0), (2, 4), (0, 2), (4, 2)]
    order += [(r, c) for r in range(5) for c in range(5) if (r, c) not in order]
    chosen = np.array([order[i % len(order)] for i in range(k)])
    return np.broadcast_to(chosen, (n, k, 2))
