"""MNIST loading: one validated, read-only uint8 copy per process, split 55k/5k/10k."""

from __future__ import annotations

import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core.download import DownloadError, Progress, ensure_mnist

ENV_VAR = "MNIST_NPZ_PATH"
N_TRAIN = 55_000
N_VALIDATION = 5_000
_EXPECTED = {
    "x_train": ((60_000, 28, 28), np.uint8),
    "y_train": ((60_000,), np.uint8),
    "x_test": ((10_000, 28, 28), np.uint8),
    "y_test": ((10_000,), np.uint8),
}


class DatasetError(RuntimeError):
    """The MNIST file is missing, unreadable or not MNIST; the message says how to fix it."""


@dataclass(frozen=True)
class Split:
    """Images (N, 28, 28) uint8 and labels (N,) uint8, both read-only."""

    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Mnist:
    train: Split
    validation: Split
    test: Split
    source: str


_lock = threading.Lock()
_cache: dict[str, Mnist] = {}


def load_mnist(path: str | os.PathLike | None = None, progress: Progress | None = None) -> Mnist:
    """Return MNIST from `path`, else $MNIST_NPZ_PATH, else the Keras download; cached per source.

    `progress(bytes so far, total or None)` is called while a download runs.
    """
    path = path if path is not None else os.environ.get(ENV_VAR) or None
    key = str(Path(path).resolve()) if path else "keras"
    with _lock:
        if key not in _cache:
            arrays = _read_npz(Path(path)) if path else _download(progress)
            _cache[key] = split_mnist(arrays, source=key)
        return _cache[key]


def is_loaded(path: str | os.PathLike | None = None) -> bool:
    """Whether load_mnist(path) would return at once (this process has already read that source)."""
    path = path if path is not None else os.environ.get(ENV_VAR) or None
    return (str(Path(path).resolve()) if path else "keras") in _cache


def split_mnist(arrays: dict[str, np.ndarray], source: str = "memory") -> Mnist:
    """Validate raw arrays and split: the first 55,000 training images train, the last 5,000 validate."""
    validate_arrays(arrays)
    parts = {k: np.ascontiguousarray(v) for k, v in arrays.items()}
    for array in parts.values():
        array.flags.writeable = False
    n = N_TRAIN
    return Mnist(
        train=Split(parts["x_train"][:n], parts["y_train"][:n]),
        validation=Split(parts["x_train"][n:], parts["y_train"][n:]),
        test=Split(parts["x_test"], parts["y_test"]),
        source=source,
    )


def validate_arrays(arrays: dict[str, np.ndarray]) -> None:
    """Raise DatasetError naming the first key, shape, dtype or label that is not MNIST's."""
    for key, (shape, dtype) in _EXPECTED.items():
        if key not in arrays:
            raise DatasetError(f"MNIST file has no '{key}' array (found: {sorted(arrays)}).")
        array = arrays[key]
        if array.shape != shape:
            raise DatasetError(f"MNIST '{key}' has shape {array.shape}, expected {shape}.")
        if array.dtype != dtype:
            raise DatasetError(f"MNIST '{key}' has dtype {array.dtype}, expected {np.dtype(dtype)}.")
    for key in ("y_train", "y_test"):
        if arrays[key].max() > 9:
            raise DatasetError(f"MNIST '{key}' has label {int(arrays[key].max())}; labels must be 0-9.")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    hint = f"Set {ENV_VAR} to the path of a valid mnist.npz (keys x_train, y_train, x_test, y_test)."
    if not path.is_file():
        raise DatasetError(f"MNIST file not found: {path}. {hint}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise DatasetError(f"MNIST file {path} is unreadable or truncated ({exc}). {hint}") from exc


def _download(progress: Progress | None) -> dict[str, np.ndarray]:
    """Keras's MNIST file (downloaded first if needed, into Keras's cache), read and checked."""
    try:
        return _read_npz(ensure_mnist(progress))
    except DownloadError as exc:
        raise DatasetError(f"{exc} If this machine is offline, set {ENV_VAR} to a local mnist.npz.") from exc
