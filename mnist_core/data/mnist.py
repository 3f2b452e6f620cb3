"""MNIST loading: one validated, read-only uint8 copy per process, split 55k/5k/10k."""

from __future__ import annotations

import io
import math
import os
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core.compat.zipfile_workarounds import declared_directory
from mnist_core.data.download import DownloadError, Progress, ensure_mnist
from mnist_core.data.npz_members import UNREADABLE, MemberError, brief, read_array

ENV_VAR = "MNIST_NPZ_PATH"
N_TRAIN = 55_000
N_VALIDATION = 5_000
_EXPECTED = {
    "x_train": ((60_000, 28, 28), np.uint8),
    "y_train": ((60_000,), np.uint8),
    "x_test": ((10_000, 28, 28), np.uint8),
    "y_test": ((10_000,), np.uint8),
}
_HINT = f"Set {ENV_VAR} to the path of a valid mnist.npz (keys x_train, y_train, x_test, y_test)."
MAX_FILE_BYTES = 128 * 2**20  # MNIST is 55 MB as np.savez writes it, 11 MB compressed: twice that is not MNIST
MAX_DIRECTORY_BYTES = 64 * 2**10  # MNIST's zip directory lists its 4 members in under 1 kB


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
    key = _source(path)
    with _lock:
        if key not in _cache:
            arrays = _read_npz(Path(path)) if path else _download(progress)
            _cache[key] = split_mnist(arrays, source=key)
        return _cache[key]


def is_loaded(path: str | os.PathLike | None = None) -> bool:
    """Whether load_mnist(path) would return at once (this process has already read that source)."""
    path = path if path is not None else os.environ.get(ENV_VAR) or None
    try:
        return _source(path) in _cache
    except DatasetError:
        return False


def _source(path: str | os.PathLike | None) -> str:
    """The cache key of a source: the file's resolved path, or "keras" for the download."""
    if not path:
        return "keras"
    if "\0" in os.fspath(path):
        raise DatasetError(f"MNIST file path {os.fspath(path)!r} contains a NUL byte. {_HINT}")
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop, before Python 3.13
        raise DatasetError(f"MNIST file path {os.fspath(path)!r} cannot be resolved ({exc}). {_HINT}") from exc


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
    """MNIST's four arrays from an .npz: each .npy header checked before its body is read; other members unread."""
    if not path.is_file():
        raise DatasetError(f"MNIST file not found: {path}. {_HINT}")
    try:
        with open(path, "rb") as file:
            _check_container(file, path)
            with zipfile.ZipFile(file) as archive:
                return {key: _read_member(archive, key, path) for key in _EXPECTED}
    except UNREADABLE as exc:
        raise DatasetError(f"MNIST file {path} is unreadable or truncated ({brief(exc)}). {_HINT}") from exc


def _check_container(file: io.BufferedReader, path: Path) -> None:
    """Refuse, before zipfile parses anything, a file too large to be MNIST, a lone .npy, or a huge zip directory."""
    size = os.fstat(file.fileno()).st_size
    if size > MAX_FILE_BYTES:
        raise DatasetError(
            f"MNIST file {path} is {math.ceil(size / 2**20):,} MB, over the {MAX_FILE_BYTES // 2**20} MB limit "
            f"(MNIST is 55 MB uncompressed). {_HINT}"
        )
    if file.read(6) == b"\x93NUMPY":
        raise DatasetError(f"MNIST file {path} is a single .npy array, not an .npz of the four arrays. {_HINT}")
    declared = declared_directory(file)
    if declared is not None and declared[1] > MAX_DIRECTORY_BYTES:
        raise DatasetError(
            f"MNIST file {path} has a zip directory of {declared[1]:,} bytes; MNIST's lists "
            f"4 members in under 1 kB (at most {MAX_DIRECTORY_BYTES:,} bytes are read). {_HINT}"
        )
    file.seek(0)


def _read_member(archive: zipfile.ZipFile, key: str, path: Path) -> np.ndarray:
    """The array of member `key`.npy, refused unless its header declares MNIST's shape and dtype and its body fits."""
    name = f"{key}.npy"
    where = f"MNIST file {path}: member '{name}'"
    info = _member_info(archive, name, where)
    shape, dtype = _EXPECTED[key]
    try:
        return read_array(archive, info, shape, [np.dtype(dtype)])
    except MemberError as exc:
        raise DatasetError(f"{where} {exc}. {_HINT}") from None
    except UNREADABLE as exc:
        raise DatasetError(f"{where} is not a readable .npy array ({brief(exc)}). {_HINT}") from exc


def _member_info(archive: zipfile.ZipFile, name: str, where: str) -> zipfile.ZipInfo:
    """The zip entry `name`, refused if missing, encrypted or compressed other than as np.savez(_compressed) does."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        names = archive.namelist()
        found = ", ".join(repr(n[:40]) for n in names[:8]) + (f" and {len(names) - 8:,} more" if len(names) > 8 else "")
        raise DatasetError(f"{where} is missing (found: {found or 'nothing'}). {_HINT}") from None
    if info.flag_bits & 0x41:  # bit 0: encrypted; bit 6: strong encryption
        raise DatasetError(f"{where} is encrypted; MNIST is not. {_HINT}")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise DatasetError(
            f"{where} uses compression method {info.compress_type}; only stored and deflate "
            f"(what np.savez and np.savez_compressed write) are read. {_HINT}"
        )
    return info


def _download(progress: Progress | None) -> dict[str, np.ndarray]:
    """Keras's MNIST file (downloaded first if needed, into Keras's cache), read and checked."""
    try:
        return _read_npz(ensure_mnist(progress))
    except DownloadError as exc:
        raise DatasetError(f"{exc} If this machine is offline, set {ENV_VAR} to a local mnist.npz.") from exc
