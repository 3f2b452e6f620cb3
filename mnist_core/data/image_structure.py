"""Counts checked before Pillow parses an upload, so that the work of parsing it is bounded by the file's structure.

Pillow parses some parts of a file in Python, one step per PNG chunk, JPEG marker (or stray byte before the first
scan), GIF block or BMP run, and libjpeg decodes every scan of a progressive JPEG over the whole image. Nothing
else bounds how many of those a file under the size cap may hold: a few thousand repeated scans, 700,000 empty
chunks, a megabyte of one-byte GIF blocks or an EXIF directory whose entries all point at the same bytes each cost
seconds to minutes of CPU (and gigabytes for the directory). Each walk below follows the file the way Pillow reads
it and stops as soon as a count passes its limit, so the walk itself is cheap too.
"""

from __future__ import annotations

import re
import struct

import numpy as np

MAX_PNG_CHUNKS = 20_000  # a 10 MB PNG in libpng's 8 kB data chunks has about 1,250
MAX_JPEG_SCANS = 100  # a progressive JPEG has about 10; libjpeg walks the whole image once per scan
MAX_JPEG_STEPS = 2_000  # markers and stray bytes before the first scan; a photo has about 20
MAX_GIF_STEPS = 100_000  # blocks and stray bytes up to the second frame; 255-byte blocks of 10 MB are 40,000
MAX_GIF_COMMENT = 256_000  # bytes of comments, which Pillow joins block by block (quadratic time)
MAX_RLE_PIXELS = 1_000_000  # Pillow decodes run-length BMPs in Python, a step per pixel or pair of bytes
MAX_RLE_BYTES = 500_000
DIRECTORY_SLACK = 4  # EXIF or MPF directory data read, as a multiple of the block holding it

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_AGAIN = "save it again, or as a PNG."
_FILL = re.compile(rb"\xff+")
_EXIF_PREFIXES = re.compile(rb"(?:Exif\x00\x00)*")
# Bytes per value of each TIFF field type, as Pillow's TIFF reader knows them (others are skipped).
_TIFF_UNITS = np.zeros(256, dtype=np.int64)
_TIFF_UNITS[[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 16, 17, 18]] = [1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4, 8, 8, 8]


def structure_problem(data: bytes) -> str | None:
    """What makes this file too costly to parse, as a sentence for the user, or None (also for unknown formats)."""
    if data.startswith(PNG_SIGNATURE):
        return _png(data)
    if data.startswith(b"\xff\xd8\xff"):
        return _jpeg(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return _gif(data)
    if data.startswith(b"BM"):
        return _bmp(data)
    return None  # WebP is parsed by libwebp alone; anything else is refused by Image.open


def _png(data: bytes) -> str | None:
    pos = len(PNG_SIGNATURE)
    for _ in range(MAX_PNG_CHUNKS):
        if pos + 8 > len(data):
            return None
        length, kind = struct.unpack_from(">I4s", data, pos)
        if kind == b"IEND":
            return None
        pos += 12 + length
    return f"The PNG file has more than {MAX_PNG_CHUNKS:,} chunks (an ordinary one has a few dozen): save it again."


def _jpeg(data: bytes) -> str | None:
    # Counting the scan marker's bytes over-counts (embedded thumbnails have scans too), never under-counts:
    # inside compressed data every 0xFF byte is followed by 0x00 or a restart marker.
    scans = data.count(b"\xff\xda")
    if scans > MAX_JPEG_SCANS:
        return f"The JPEG file has {scans:,} scans (an ordinary one has about 10; at most {MAX_JPEG_SCANS}): {_AGAIN}"
    return _jpeg_header(data)


def _jpeg_header(data: bytes) -> str | None:
    """Walk the markers before the first scan as Pillow's JpegImageFile._open does (compat.pillow_workarounds)."""
    pos, steps = 2, 0
    while steps <= MAX_JPEG_STEPS:
        marker_at = data.find(b"\xff", pos)
        if marker_at < 0:
            return None
        steps += marker_at - pos + 1  # Pillow skips stray bytes one at a time
        fill = _FILL.match(data, marker_at).end() - 1  # in a run of 0xFF, the last one starts the marker
        steps += fill - marker_at
        if fill + 1 >= len(data):
            return None
        code, pos = data[fill + 1], fill + 2
        if code == 0xDA:
            return None  # the first scan: from here on libjpeg (in C) reads the file, and the scans are counted
        if code == 0 or 0xD0 <= code <= 0xD9 or code == 0xC8 or 0xF0 <= code <= 0xFD:
            continue  # no length field (an escaped 0xFF, restart, start or end of image, extensions)
        if code < 0xC0:
            return None  # not a marker: Pillow stops with an error
        if pos + 2 > len(data):
            return None
        end = pos + max(2, struct.unpack_from(">H", data, pos)[0])
        problem = _metadata_problem(code, data[pos + 2 : end])
        if problem:
            return problem
        pos = end
    return f"The JPEG file has more than {MAX_JPEG_STEPS:,} markers or stray bytes before its image data: {_AGAIN}"


def _metadata_problem(code: int, segment: bytes) -> str | None:
    """Pillow reads the first directory of EXIF (APP1) and MPF (APP2) segments when it opens a JPEG."""
    if code == 0xE1 and segment.startswith(b"Exif\x00\x00"):
        block, name = exif_tiff(segment), "EXIF data"
    elif code == 0xE2 and segment.startswith(b"MPF\x00"):
        block, name = segment[4:], "multi-picture data"
    else:
        return None
    if directory_data(block) > DIRECTORY_SLACK * len(block):
        return f"The JPEG file's {name} points at more data than it holds, so it is damaged: {_AGAIN}"
    return None


def exif_tiff(exif: bytes) -> bytes:
    """The TIFF-structured part of an EXIF block: Pillow strips every leading "Exif\\0\\0", however many."""
    return exif[_EXIF_PREFIXES.match(exif).end() :]


def directory_data(block: bytes) -> int:
    """Bytes that reading the first directory of a TIFF-structured block copies (0 if it is not one)."""
    entries = ifd_entries(block)
    if entries is None:
        return 0
    sizes = entries["count"].astype(np.int64) * _TIFF_UNITS[np.minimum(entries["type"], 255)]
    outside = sizes > 4  # larger values are stored elsewhere in the block, at the offset the entry gives
    starts = entries["value"][outside].astype(np.int64)
    return int(np.minimum(sizes[outside], np.maximum(len(block) - starts, 0)).sum())


def ifd_entries(block: bytes) -> np.ndarray | None:
    """The 12-byte entries (tag, type, count, value) of a TIFF header's first directory, or None."""
    # Pillow takes the byte order from the first two bytes and accepts 42 written in either order.
    order = {b"II": "<", b"MM": ">"}.get(block[:2])
    if order is None or len(block) < 8 or block[2:4] not in (b"*\x00", b"\x00*"):
        return None
    (offset,) = struct.unpack_from(order + "I", block, 4)
    if offset + 2 > len(block):
        return None
    (count,) = struct.unpack_from(order + "H", block, offset)
    count = min(count, (len(block) - offset - 2) // 12)
    fields = [("tag", order + "u2"), ("type", order + "u2"), ("count", order + "u4"), ("value", order + "u4")]
    return np.frombuffer(block, np.dtype(fields), count, offset + 2)


def _gif(data: bytes) -> str | None:
    """Walk the blocks Pillow reads (up to the second frame, to tell an animation) with a cap on steps."""
    walk = _GifWalk(data)
    try:
        walk.to_image()  # blocks up to the first image
        walk.blocks()  # its data
        walk.to_image()  # blocks up to the second image, if any
    except _GifLimit as limit:
        return str(limit)
    except _GifEnd:
        pass
    return None


class _GifEnd(Exception):
    """The trailer, the end of the file, or bytes Pillow stops at."""


class _GifLimit(Exception):
    """A count over its limit; the message is for the user."""


class _GifWalk:
    def __init__(self, data: bytes) -> None:
        self.data = data
        flags = data[10] if len(data) > 10 else 0
        self.pos = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
        self.steps = self.comments = 0

    def to_image(self) -> None:
        """Extensions and stray bytes up to an image descriptor, its colour table and code size."""
        while True:
            kind = self._byte()
            if kind == 0x21:  # "!": an extension
                label = self._byte()
                length = self.blocks()
                if label == 0xFE:
                    self.comments += length
                    if self.comments > MAX_GIF_COMMENT:
                        raise _GifLimit(f"The GIF file's comments are over {MAX_GIF_COMMENT:,} bytes: {_AGAIN}")
            elif kind == 0x2C:  # ","
                flags = self._bytes(9)[8]
                self._bytes((3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1)
                return
            elif kind == 0x3B:  # ";": the trailer
                raise _GifEnd()

    def blocks(self) -> int:
        """Skip data sub-blocks up to their terminator; the bytes they held."""
        total = 0
        while size := self._byte():
            self._bytes(size)
            total += size
        return total

    def _byte(self) -> int:
        return self._bytes(1)[0]

    def _bytes(self, count: int) -> bytes:
        self.steps += 1
        if self.steps > MAX_GIF_STEPS:
            raise _GifLimit(f"The GIF file has more than {MAX_GIF_STEPS:,} blocks before its second frame: {_AGAIN}")
        if self.pos + count > len(self.data):
            raise _GifEnd()
        self.pos += count
        return self.data[self.pos - count : self.pos]


def _bmp(data: bytes) -> str | None:
    if len(data) < 34 or struct.unpack_from("<I", data, 14)[0] < 40:
        return None  # the old 12-byte header has no compression field
    width, height = struct.unpack_from("<ii", data, 18)
    (compression,) = struct.unpack_from("<I", data, 30)
    if compression not in (1, 2):  # 1, 2: run-length encoded, 8 or 4 bits per pixel
        return None
    if abs(width) * abs(height) > MAX_RLE_PIXELS or len(data) > MAX_RLE_BYTES:
        return (
            f"Run-length encoded BMP files are accepted up to {MAX_RLE_PIXELS / 1e6:g} million pixels and "
            f"{MAX_RLE_BYTES / 1e3:g} kB: save it as PNG instead."
        )
    return None
