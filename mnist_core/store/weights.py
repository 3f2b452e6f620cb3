"""A run's weights in the store: NumPy's .npz bytes (no pickles), checked against the layers before use."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence

import numpy as np

from mnist_core.model.architecture import LayerSpec


class WeightsError(ValueError):
    """The stored weights cannot be used with the run's layers; the message says why."""


def pack(weights: Sequence[np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, *[np.asarray(w, dtype=np.float32) for w in weights])
    return buffer.getvalue()


def packed_size(weights: Sequence[np.ndarray]) -> int:
    return sum(int(np.asarray(w).size) * 4 for w in weights)


def unpack(data: bytes, layers: list[LayerSpec], seed: int = 0) -> list[np.ndarray]:
    """The weights in `data`, if they fit the network `layers` builds; else WeightsError naming the mismatch."""
    from mnist_core.model.architecture import build_model  # Keras: only when a stored network is used

    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = [archive[f"arr_{i}"] for i in range(len(archive.files))]
    except (ValueError, OSError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        raise WeightsError(f"the stored weights cannot be read ({type(exc).__name__}).") from None
    expected = [tuple(w.shape) for w in build_model(layers, seed).get_weights()]
    if len(arrays) != len(expected):
        raise WeightsError(f"the network has {len(expected)} weight arrays, the stored weights {len(arrays)}.")
    for index, (array, shape) in enumerate(zip(arrays, expected)):
        if tuple(array.shape) != shape:
            raise WeightsError(
                f"weight array {index + 1} of the network has shape {shape}, the stored one {tuple(array.shape)}."
            )
        if array.dtype.kind != "f" or not np.all(np.isfinite(array)):
            raise WeightsError(f"weight array {index + 1} holds values that are not finite numbers.")
    return [a.astype(np.float32) for a in arrays]
