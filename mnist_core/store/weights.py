"""A run's weights in the store: NumPy's .npz bytes (no pickles), checked against the layers before use.

The stored bytes may have been edited: the zip directory (members, names, declared sizes, compression) and each
member's .npy header are checked against the network's shapes before any array body is decompressed.
"""

from __future__ import annotations

import io
import math
import zipfile
from collections.abc import Sequence

import numpy as np

from mnist_core.compat.zipfile_workarounds import declared_directory
from mnist_core.data.npz_members import UNREADABLE, MemberError, brief, read_array
from mnist_core.model.architecture import LayerSpec

DTYPES = [np.dtype("<f4"), np.dtype("<f8")]  # pack writes float32; float64 is read too
DIRECTORY_BYTES_PER_MEMBER = 256  # np.savez's entry for "arr_12.npy" takes about 60 bytes, zip64 extras included


class WeightsError(ValueError):
    """The stored weights cannot be used with the run's layers; the message says why."""


def pack(weights: Sequence[np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, *[np.asarray(w, dtype=np.float32) for w in weights])
    return buffer.getvalue()


def packed_size(weights: Sequence[np.ndarray]) -> int:
    return sum(int(np.asarray(w).size) * 4 for w in weights)


def expected_shapes(layers: list[LayerSpec], seed: int = 0) -> list[tuple[int, ...]]:
    """The shapes of the weight arrays of the network `layers` builds."""
    from mnist_core.model.architecture import build_model  # Keras: only when a stored network is used

    return [tuple(w.shape) for w in build_model(layers, seed).get_weights()]


def unpack(data: bytes, layers: list[LayerSpec], seed: int = 0) -> list[np.ndarray]:
    """The weights in `data`, if they fit the network `layers` builds; else WeightsError naming the mismatch."""
    return read_weights(data, expected_shapes(layers, seed))


def read_weights(data: bytes, shapes: list[tuple[int, ...]]) -> list[np.ndarray]:
    """The arrays in `data` if it holds exactly `shapes` (checked from the headers first); else WeightsError."""
    try:
        _check_directory(data, len(shapes))
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = _check_members(archive, shapes)
            arrays = [_read(archive, info, shape, index) for index, (info, shape) in enumerate(zip(infos, shapes))]
    except WeightsError:
        raise
    except UNREADABLE as exc:
        raise WeightsError(f"the stored weights cannot be read ({type(exc).__name__}: {brief(exc)}).") from None
    for index, array in enumerate(arrays):
        if not np.all(np.isfinite(array)):
            raise WeightsError(f"weight array {index + 1} holds values that are not finite numbers.")
    return [a.astype(np.float32) for a in arrays]


def _check_directory(data: bytes, count: int) -> None:
    """From the zip's end record alone, before zipfile lists the members: as many as the network has arrays."""
    declared = declared_directory(io.BytesIO(data))
    if declared is None:
        return  # not a zip: zipfile says so when it opens the bytes
    entries, size = declared
    if entries != count:
        raise WeightsError(f"the network has {count} weight arrays, the stored weights {entries:,}.")
    if size > count * DIRECTORY_BYTES_PER_MEMBER:
        raise WeightsError(f"the stored weights' zip directory takes {size:,} bytes; {count} arrays need far fewer.")


def _check_members(archive: zipfile.ZipFile, shapes: list[tuple[int, ...]]) -> list[zipfile.ZipInfo]:
    """The members arr_0.npy ... in order, each stored or deflated, unencrypted, and declaring a size that fits."""
    infos = archive.infolist()
    names = [f"arr_{i}.npy" for i in range(len(shapes))]
    if len(infos) != len(shapes):
        raise WeightsError(f"the network has {len(shapes)} weight arrays, the stored weights {len(infos)}.")
    if sorted(i.filename for i in infos) != sorted(names):
        raise WeightsError(f"the stored weights hold members other than {names[0]} to {names[-1]}.")
    by_name = {info.filename: info for info in infos}
    for index, (name, shape) in enumerate(zip(names, shapes)):
        info = by_name[name]
        if info.flag_bits & 0x41:  # bit 0: encrypted; bit 6: strong encryption
            raise WeightsError(f"weight array {index + 1} is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise WeightsError(f"weight array {index + 1} uses compression method {info.compress_type}.")
        most = 4096 + math.prod(shape) * max(d.itemsize for d in DTYPES)  # header at most 4 kB, then the values
        if info.file_size > most:
            raise WeightsError(
                f"weight array {index + 1} would unpack to {info.file_size:,} bytes; one of shape {shape} takes at "
                f"most {most:,}."
            )
    return [by_name[name] for name in names]


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...], index: int) -> np.ndarray:
    try:
        return read_array(archive, info, shape, DTYPES)
    except MemberError as exc:
        text = str(exc)
        if text.startswith("has shape "):  # worded as the network's shape against the stored one
            found = text.removeprefix("has shape ").split(", expected")[0]
            message = f"weight array {index + 1} of the network has shape {shape}, the stored one {found}."
            raise WeightsError(message) from None
        raise WeightsError(f"weight array {index + 1} {text}.") from None
