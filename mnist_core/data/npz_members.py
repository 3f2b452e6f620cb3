"""An .npz's members read as arrays only after their .npy header declares the expected shape, dtype and size.

Shared by the dataset loader and the run store's weights: both read archives that may have been edited, where a
small file can inflate to gigabytes, so nothing is decompressed beyond a member's header before it is checked.
"""

from __future__ import annotations

import io
import math
import tokenize
import zipfile
import zlib
from collections.abc import Sequence

import numpy as np
from numpy.lib import format as npy

HEADER_BYTES = 4096  # what is read of a member before its .npy header is checked (np.save's headers are 128 bytes)
_CHUNK = 2**18  # as NumPy reads: larger chunks only add a copy in memory
# What zipfile, zlib and NumPy's header parser raise for damaged bytes (ValueError includes UnicodeDecodeError).
UNREADABLE = (OSError, EOFError, ValueError, NotImplementedError, zipfile.BadZipFile, zlib.error)


class MemberError(ValueError):
    """A member's header does not declare what was expected; the message starts with what it has."""


def read_array(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, shape: tuple[int, ...], dtypes: Sequence[np.dtype]
) -> np.ndarray:
    """The array of `info`: MemberError unless its header declares `shape`, one of `dtypes` and the entry's size.

    The entry's declared uncompressed size is compared with the header's before the body is decompressed; the other
    exceptions are UNREADABLE's (damaged bytes).
    """
    with archive.open(info) as stream:
        head = stream.read(HEADER_BYTES)
        header = io.BytesIO(head)
        found_shape, fortran, found_dtype = read_header(header)
        if found_dtype not in [np.dtype(d) for d in dtypes]:
            pickled = " (a pickled object array: never loaded)" if found_dtype.hasobject else ""
            expected = " or ".join(str(np.dtype(d)) for d in dtypes)
            raise MemberError(f"has dtype {found_dtype}{pickled}, expected {expected}")
        if found_shape != shape:
            raise MemberError(f"has shape {found_shape}, expected {shape}")
        declared = header.tell() + math.prod(shape) * found_dtype.itemsize
        if info.file_size != declared:  # checked before decompressing the body: a bomb stops here
            raise MemberError(f"holds {info.file_size:,} bytes; its .npy header declares {declared:,}")
        array = np.empty(math.prod(shape), found_dtype)
        fill(memoryview(array).cast("B"), head[header.tell() :], stream)
    return array.reshape(shape[::-1]).T if fortran else array.reshape(shape)


def read_header(header: io.BytesIO) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) from a .npy header of version 1.0 or 2.0 (3.0 only adds UTF-8 field names)."""
    version = npy.read_magic(header)
    if version not in ((1, 0), (2, 0)):
        raise ValueError(f".npy format version {version[0]}.{version[1]}; np.save writes 1.0 or 2.0")
    read = npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
    try:
        return read(header, max_header_size=HEADER_BYTES)
    except (tokenize.TokenError, RecursionError) as exc:  # what NumPy's parser lets through for some garbage
        raise ValueError(f"its header is not a Python literal ({type(exc).__name__}: {exc})") from exc


def fill(buffer: memoryview, start: bytes, stream: io.BufferedIOBase) -> None:
    """Fill `buffer` with `start` and then `stream`, which must hold exactly as many bytes (ValueError if not)."""
    done = min(len(start), len(buffer))
    buffer[:done] = start[:done]
    while done < len(buffer):
        got = stream.readinto(buffer[done : done + _CHUNK])
        if not got:
            raise ValueError(f"its array data ends after {done:,} of {len(buffer):,} bytes")
        done += got
    if len(start) > done or stream.read(1):  # zipfile stops at the entry's declared size: a guard, not the bound
        raise ValueError("it holds more data than its header declares")


def brief(exc: Exception) -> str:
    """The exception's text, cut short: NumPy quotes a whole unparsable header."""
    text = str(exc)
    return text if len(text) <= 200 else text[:200] + "…"
