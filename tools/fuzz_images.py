"""Fuzz uploaded images: `python -m tools.fuzz_images --examples N` prints one JSON object.

Every input is a mutation of a small valid image made here with Pillow (PNG in six modes, GIF still and animated,
JPEG baseline, progressive and with EXIF, MPO, WebP lossless, lossy and animated, BMP in three depths and
run-length encoded): bytes flipped, cut, inserted or repeated, header sizes changed, and for PNG and JPEG whole
chunks or segments mutated, repeated or added with their lengths and PNG checksums kept valid, so the parsers get
past their first checks. Each goes through decode_image_with_notes and then preprocess, as on the Draw page. The
property: an RGBA array and Stages, or ImageError / BlankImageError / TooLittleInkError; never another
exception; within CPU_SECONDS of CPU and a peak RSS of PEAK_MB above the run's start.

`--costs` instead measures, each in a fresh process, what the issue's hostile files (and a few more of the same
kinds) cost to decode and preprocess; `--repo PATH` runs that against another checkout, for a before/after.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from tools.fuzzing import fuzz_arguments, long_run

_REPO = Path(__file__).resolve().parent.parent
CPU_SECONDS = 5.0  # per input; the largest accepted image (25 megapixels) decodes in about a second
PEAKS: list[float] = []  # each input's peak memory, MB above its start
PEAK_MB = 600  # per input, resident memory above its start; a 25-megapixel image and its conversions take ~250 MB

# --- valid seeds, made with Pillow ---


def encode(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def seven(size: tuple[int, int] = (24, 20), mode: str = "RGB", ink: Any = "black", paper: Any = "white") -> Image.Image:
    """A digit 7 drawn on paper, in any mode."""
    img = Image.new("RGBA" if mode == "RGBA" else "RGB", size, paper)  # RGBA: keep a transparent paper
    w, h = size
    ImageDraw.Draw(img).line([(w * 0.2, h * 0.2), (w * 0.8, h * 0.2), (w * 0.4, h * 0.85)], fill=ink, width=3)
    return img.convert(mode)


def exif_block(orientation: int, byte_order: str = "<") -> bytes:
    """An EXIF block whose first directory holds only an Orientation entry."""
    head = (b"II*\x00" if byte_order == "<" else b"MM\x00*") + struct.pack(byte_order + "I", 8)
    entry = struct.pack(byte_order + "HHIHH", 0x0112, 3, 1, orientation, 0)
    return b"Exif\x00\x00" + head + struct.pack(byte_order + "H", 1) + entry + bytes(4)


def rle8_bmp(width: int, height: int, rows: list[bytes]) -> bytes:
    """A run-length encoded 8-bit BMP (bottom-up) with the given encoded rows and a grey palette."""
    pixels = b"".join(rows) + b"\x00\x01"
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    offset = 14 + 40 + len(palette)
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    return b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset) + info + palette + pixels


@cache
def seeds() -> dict[str, bytes]:
    """Small valid files of every accepted format and the modes Pillow writes for them."""
    digit = seven()
    palette = digit.convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    sixteen = Image.fromarray((np.asarray(digit.convert("L"), dtype=np.uint16) * 257).astype(np.uint16))
    transparent = seven(mode="RGBA", ink=(0, 0, 0, 255), paper=(0, 0, 0, 0))
    blank = Image.new("RGB", digit.size, "white")
    rle_rows = [b"\x0c\xff\x03\x00\x09\xff\x00\x00"] * 20  # 12 white, 3 black, 9 white pixels per row
    return {
        "png-rgb": encode(digit, "PNG"),
        "png-palette-transparent": encode(palette, "PNG", transparency=0),
        "png-la": encode(digit.convert("LA"), "PNG"),
        "png-16-bit": encode(sixteen, "PNG"),
        "png-rgba": encode(transparent, "PNG"),
        "png-exif": encode(digit, "PNG", exif=exif_block(6)),
        "gif": encode(palette, "GIF", comment=b"a comment"),
        "gif-animated": encode(palette, "GIF", save_all=True, append_images=[blank.convert("P")], duration=50),
        "jpeg": encode(digit, "JPEG", quality=90),
        "jpeg-progressive": encode(digit, "JPEG", progressive=True, quality=80),
        "jpeg-exif": encode(digit, "JPEG", exif=exif_block(8, ">")),
        "jpeg-grey": encode(digit.convert("L"), "JPEG"),
        "mpo": encode(digit, "MPO", save_all=True, append_images=[blank]),
        "webp-lossless": encode(transparent, "WEBP", lossless=True),
        "webp-lossy": encode(digit, "WEBP", quality=60),
        "webp-animated": encode(digit, "WEBP", save_all=True, append_images=[blank], duration=50),
        "bmp-rgb": encode(digit, "BMP"),
        "bmp-palette": encode(palette, "BMP"),
        "bmp-1-bit": encode(digit.convert("1"), "BMP"),
        "bmp-rle8": rle8_bmp(24, 20, rle_rows),
    }


# --- structure of PNG and JPEG files, for mutations that keep them parseable ---


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, chunks = 8, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack_from(">I4s", data, pos)
        chunks.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return chunks


def png_bytes(chunks: list[tuple[bytes, bytes]]) -> bytes:
    return b"\x89PNG\r\n\x1a\n" + b"".join(png_chunk(kind, payload) for kind, payload in chunks)


def jpeg_segments(data: bytes) -> list[bytes]:
    """SOI, each marker segment (a scan with its entropy-coded data), then EOI, as raw byte strings."""
    segments, pos = [data[:2]], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        code = data[pos + 1]
        if code == 0xD9:
            break
        end = pos + 2 + struct.unpack_from(">H", data, pos + 2)[0]
        if code == 0xDA:  # the scan's data runs to the next marker that is not a restart or an escaped 0xFF
            while (end := data.find(b"\xff", end)) >= 0 and (data[end + 1] == 0 or 0xD0 <= data[end + 1] <= 0xD7):
                end += 2
            end = len(data) if end < 0 else end
        segments.append(data[pos:end])
        pos = end
    return [*segments, data[pos:]]


# --- mutations ---

_BYTE_VALUES = st.sampled_from([0, 1, 0x7F, 0x80, 0xFE, 0xFF]) | st.integers(0, 255)
_BIG = st.sampled_from([0, 1, 255, 256, 4096, 5000, 65535, 2**16, 2**24, 2**31 - 1, 2**32 - 1])
# Structure-aware mutations (PNG chunks, JPEG segments) three times as often: they get past the first checks.
MUTATIONS = ["flip", "cut", "insert", "repeat", "number", "structure", "structure", "structure"]
_CHUNK_KINDS = [b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"eXIf", b"acTL", b"fcTL", b"fdAT", b"iCCP"]
_CHUNK_KINDS += [b"zTXt", b"iTXt", b"tEXt", b"gAMA", b"sRGB", b"pHYs", b"zzZz", b"bKGD", b"sBIT", b"cHRM"]


@st.composite
def mutated_image(draw: st.DrawFn) -> tuple[str, bytes]:
    """(what was done, the file's bytes): a seed with one to three mutations."""
    name = draw(st.sampled_from(sorted(seeds())))
    data, done = seeds()[name], [name]
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(MUTATIONS))
        data = mutate(draw, kind, data)
        done.append(kind)
    return " ".join(done), data


def mutate(draw: st.DrawFn, kind: str, data: bytes) -> bytes:
    """data with one mutation of a kind in MUTATIONS."""
    if not data:
        return data
    at = draw(st.integers(0, max(0, len(data) - 1)))
    if kind == "flip":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            out[draw(st.integers(0, len(out) - 1))] = draw(_BYTE_VALUES)
        return bytes(out)
    if kind == "cut":
        return data[:at] + (data[draw(st.integers(at, len(data))) :] if draw(st.booleans()) else b"")
    if kind == "insert":
        return data[:at] + draw(st.binary(min_size=1, max_size=64)) + data[at:]
    if kind == "repeat":  # a slice repeated, up to thousands of times: scans, chunks, blocks
        end = min(len(data), at + draw(st.integers(1, 300)))
        times = draw(st.sampled_from([2, 10, 300, 3000, 30000]))
        return data[:end] + data[at:end] * times + data[end:]
    if kind == "number":  # a 16- or 32-bit field near the start (sizes, lengths, counts) set to a boundary value
        at = draw(st.integers(0, min(len(data), 64)))
        size, order = draw(st.sampled_from([(2, "<"), (2, ">"), (4, "<"), (4, ">")]))
        value = draw(_BIG) % (256**size)
        return data[:at] + value.to_bytes(size, "little" if order == "<" else "big") + data[at + size :]
    if data.startswith(b"\x89PNG"):
        return _mutate_png(draw, data)
    if data.startswith(b"\xff\xd8"):
        return _mutate_jpeg(draw, data)
    if data.startswith(b"GIF"):
        return _mutate_gif(draw, data)
    return data


def _mutate_png(draw: st.DrawFn, data: bytes) -> bytes:
    """A chunk changed, repeated, removed or added, every checksum valid."""
    chunks = png_chunks(data)
    if not chunks:
        return data
    i = draw(st.integers(0, len(chunks) - 1))
    kind, payload = chunks[i]
    what = draw(st.sampled_from(["payload", "repeat", "drop", "add", "kind"]))
    if what == "payload":
        cut = draw(st.integers(0, len(payload)))
        new = draw(st.sampled_from(["cut", "extend", "flip", "random", "resize"]))
        if new == "resize":  # to a length at a boundary of what it describes (palette entries, rows, counts)
            length = draw(st.sampled_from([0, 1, 2, 3, 4, 12, 13, 255, 256, 257, 767, 768, 769, 1024]))
            payload = (payload or b"\x00").ljust(length, draw(st.sampled_from([b"\x00", b"\x80", b"\xff"])))[:length]
        elif new == "cut":
            payload = payload[:cut]
        elif new == "extend":
            payload += draw(st.binary(max_size=1200))
        elif new == "flip" and payload:
            flipped = bytearray(payload)
            flipped[min(cut, len(payload) - 1)] = draw(_BYTE_VALUES)
            payload = bytes(flipped)
        else:
            payload = draw(st.binary(max_size=300))
        chunks[i] = (kind, payload)
    elif what == "repeat":
        chunks[i:i] = [(kind, payload)] * draw(st.sampled_from([2, 100, 5000, 30000]))
    elif what == "drop":
        del chunks[i]
    elif what == "add":
        chunks.insert(i, (draw(st.sampled_from(_CHUNK_KINDS)), draw(st.binary(max_size=800))))
    else:
        chunks[i] = (draw(st.sampled_from(_CHUNK_KINDS)), payload)
    return png_bytes(chunks)


def _mutate_jpeg(draw: st.DrawFn, data: bytes) -> bytes:
    """A marker segment changed (its length kept true), repeated or removed."""
    segments = jpeg_segments(data)
    if len(segments) < 3:
        return data
    i = draw(st.integers(1, len(segments) - 2))
    segment = segments[i]
    what = draw(st.sampled_from(["payload", "repeat", "drop"]))
    if what == "payload" and len(segment) > 4:
        body = bytearray(segment[4:])
        for _ in range(draw(st.integers(1, 4))):
            body[draw(st.integers(0, len(body) - 1))] = draw(_BYTE_VALUES)
        length = segment[2:4] if segment[1] == 0xDA else struct.pack(">H", min(65535, len(body) + 2))
        segments[i] = segment[:2] + length + bytes(body)
    elif what == "repeat":
        segments[i:i] = [segment] * draw(st.sampled_from([2, 50, 150, 3000]))
    else:
        del segments[i]
    return b"".join(segments)


def gif_blocks(data: bytes) -> list[int]:
    """Where each extension and image descriptor of a GIF starts (its "!" or "," byte)."""
    pos, starts = 13 + (3 << ((data[10] & 7) + 1) if len(data) > 10 and data[10] & 0x80 else 0), []
    while pos < len(data) and data[pos] in (0x21, 0x2C):
        starts.append(pos)
        if data[pos] == 0x21:
            pos += 2
        else:
            flags = data[pos + 9] if pos + 9 < len(data) else 0
            pos += 10 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0) + 1
        while pos < len(data) and data[pos]:  # data sub-blocks up to their terminator
            pos += data[pos] + 1
        pos += 1
    return starts


def _mutate_gif(draw: st.DrawFn, data: bytes) -> bytes:
    """Cut or change bytes just after an image descriptor or extension introducer (frame headers, their sizes)."""
    starts = gif_blocks(data) or [0]
    at = draw(st.sampled_from(starts)) + draw(st.integers(0, 12))
    if draw(st.booleans()):
        return data[:at]
    return data[:at] + bytes([draw(_BYTE_VALUES)]) + data[at + 1 :]


# --- outcome of one input ---


def memory_mb() -> tuple[float, float]:
    """(peak, current) resident memory of this process in MB, from Linux's /proc/self/status."""
    status = Path("/proc/self/status").read_text()
    return tuple(float(re.search(rf"{key}:\s+(\d+)", status).group(1)) / 1024 for key in ("VmHWM", "VmRSS"))


def reset_peak() -> None:
    """Start the peak (VmHWM) again from the current resident memory, so each input's own peak can be read."""
    Path("/proc/self/clear_refs").write_text("5")


def decode_and_preprocess(data: bytes) -> str:
    """What the Draw page would show: 'read', 'refused: <ImageError>' or 'no digit: <message>'."""
    from mnist_core.data.images import ImageError, decode_image_with_notes

    try:
        image, _ = decode_image_with_notes(data)
    except ImageError as exc:
        return f"refused: {exc}"
    return read_digit(image, "decode_image_with_notes")


def read_digit(image: np.ndarray, decoder: str) -> str:
    """'read' or 'no digit: <message>' for a decoded RGBA image; AssertionError if either step broke its promise."""
    from mnist_core.data.preprocess import BlankImageError, TooLittleInkError, preprocess

    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 4:
        raise AssertionError(f"{decoder} returned {image.dtype} {image.shape}")
    try:
        stages = preprocess(image)
    except (BlankImageError, TooLittleInkError) as exc:
        return f"no digit: {exc}"
    if stages.final.shape != (28, 28):
        raise AssertionError(f"preprocess returned a {stages.final.shape} input")
    return "read"


def outcome(data: Any, through: Callable[[Any], str] = decode_and_preprocess) -> tuple[str, dict[str, Any] | None]:
    """(what the page would show, None) if `through(data)` stays within the bounds, else (.., what went wrong).

    Each input's peak memory (MB above where it started) is appended to PEAKS.
    """
    reset_peak()
    start_mb = memory_mb()[1]
    cpu = time.process_time()
    try:
        said = through(data)
    except Exception as exc:  # noqa: BLE001 - any other exception is the finding
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return "failed", {
            "error": f"{type(exc).__name__}: {str(exc)[:300]}",
            "where": f"{frame.filename}:{frame.lineno}",
        }
    spent, grown = time.process_time() - cpu, memory_mb()[0] - start_mb
    PEAKS.append(grown)
    if spent > CPU_SECONDS or grown > PEAK_MB:
        return said, {"error": f"over the bounds: {spent:.1f} s of CPU, peak RSS {grown:.0f} MB above the start"}
    return said, None


# --- the command ---


def fuzz(examples: int, seed: int | None = None) -> dict[str, Any]:
    """Try `examples` mutated images; every failure, not only the first."""
    return tally(mutated_image(), outcome, ("read", "refused", "no digit"), examples, seed, _file_shown)


def _file_shown(what: str, data: bytes) -> dict[str, Any]:
    return {"input": what, "bytes": len(data)}


def tally(
    strategy: st.SearchStrategy,
    outcome_of: Callable[[Any], tuple[str, dict[str, Any] | None]],
    kinds: tuple[str, ...],
    examples: int,
    seed: int | None,
    shown: Callable[[str, Any], dict[str, Any]],
) -> dict[str, Any]:
    """Try `examples` (description, input) cases from `strategy` through `outcome_of` (what the page would show,
    what went wrong): how many of each kind it showed, every failure, and the largest CPU time and memory peak."""
    counts = dict.fromkeys(kinds, 0)
    failures: list[dict[str, Any]] = []
    cpu_max, tried = 0.0, 0
    PEAKS.clear()

    @long_run(examples, seed)
    @given(strategy)
    def attempt(case: tuple[str, Any]) -> None:
        nonlocal tried, cpu_max
        what, value = case
        tried += 1
        start = time.process_time()
        said, found = outcome_of(value)
        cpu_max = max(cpu_max, time.process_time() - start)
        for key in counts:
            counts[key] += said.startswith(key)
        if found is not None:
            failures.append({**shown(what, value), **found})

    start = time.monotonic()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about every damaged file it still reads
        (fixed_seed(seed)(attempt) if seed is not None else attempt)()
    return {
        "tried": tried,
        **counts,
        "failures": failures,
        "failure_count": len(failures),
        "max_cpu_seconds": round(cpu_max, 3),
        "max_peak_mb": round(max(PEAKS, default=0), 1),
        "seconds": round(time.monotonic() - start, 1),
    }


# --- the hostile files, and more of the same kinds ---


def eob_run_jpeg(width: int, height: int, scans: int = 1) -> bytes:
    """A greyscale progressive JPEG of `scans` identical scans that only say "all zero" in runs of 32,767 blocks."""
    blocks = -(-width // 8) * -(-height // 8)
    runs = [min(32767, max(16384, blocks - done)) for done in range(0, blocks, 32767)]
    bits = "".join("0" + format(run - 16384, "014b") for run in runs)  # code "0": an EOB run of 2^14 + 14 bits
    bits += "1" * (-len(bits) % 8)
    coded = bytes(int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)).replace(b"\xff", b"\xff\x00")

    def segment(code: int, payload: bytes) -> bytes:
        return bytes([0xFF, code]) + struct.pack(">H", len(payload) + 2) + payload

    header = segment(0xDB, bytes(1) + bytes([1]) * 64)
    header += segment(0xC2, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    header += segment(0xC4, b"\x10" + bytes([1] + [0] * 15) + b"\xe0")  # AC table 0: one code, the symbol 0xE0
    scan = segment(0xDA, b"\x01\x01\x00\x01\x3f\x00") + coded  # component 1, AC coefficients 1-63
    return b"\xff\xd8" + header + scan * scans + b"\xff\xd9"


def repeated_last_scan_jpeg(times: int) -> bytes:
    """A blank 3000x3000 progressive JPEG made by Pillow, whose last scan is repeated `times` more times."""
    data = encode(Image.new("RGB", (3000, 3000), "white"), "JPEG", progressive=True, quality=75)
    last = data.rindex(b"\xff\xda")
    return data[:last] + data[last:-2] * (times + 1) + data[-2:]


def phone_photo() -> bytes:
    """A 4000x3000 photo-like JPEG (shaded, noisy paper with a dark 7, about 1 MB) with an EXIF orientation."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:3000, 0:4000].astype(np.float32)
    paper = 200 + 30 * np.sin(x / 700) + 20 * np.cos(y / 500)
    pixels = np.stack([paper, paper * 0.97, paper * 0.9], -1) + rng.normal(0, 9, (3000, 4000, 3))
    img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))
    ImageDraw.Draw(img).line([(1400, 900), (2600, 900), (1800, 2300)], fill=(30, 30, 40), width=120)
    return encode(img, "JPEG", quality=70, exif=exif_block(1))


def png_with_chunks(count: int) -> bytes:
    """A 28x28 PNG with `count` empty unknown chunks before its pixels."""
    chunks = png_chunks(encode(seven((28, 28)), "PNG"))
    return png_bytes(chunks[:1]) + png_chunk(b"zzZz", b"") * count + b"".join(png_chunk(*c) for c in chunks[1:])


def directory_pointing_at_one_place(entries: int, size: int, byte_order: str, orientation: int | None) -> bytes:
    """A TIFF-structured block whose `entries` entries (SHORT arrays of `size` bytes) all point at offset 0."""
    fields = [struct.pack(byte_order + "HHIHH", 0x0112, 3, 1, orientation, 0)] if orientation else []
    fields += [struct.pack(byte_order + "HHII", 0x1000 + i, 3, size // 2, 0) for i in range(entries)]
    head = (b"II*\x00" if byte_order == "<" else b"MM\x00*") + struct.pack(byte_order + "I", 8)
    block = head + struct.pack(byte_order + "H", len(fields)) + b"".join(fields) + bytes(4)
    return block + bytes(max(0, size - len(block)))


def jpeg_with_segment(code: int, payload: bytes, times: int = 1) -> bytes:
    base = encode(seven((28, 28)), "JPEG")
    segment = bytes([0xFF, code]) + struct.pack(">H", len(payload) + 2) + payload
    return base[:2] + segment * times + base[2:]


def gif_with_comment(blocks: int, size: int) -> bytes:
    """A GIF whose comment is `blocks` sub-blocks of `size` bytes, before its image."""
    data = encode(seven((28, 28), "P"), "GIF")
    table = 3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0
    head = 13 + table
    return data[:head] + b"\x21\xfe" + (bytes([size]) + b"x" * size) * blocks + b"\x00" + data[head:]


def tiff_tags_at_one_block(tags: int, size: int) -> bytes:
    """A TIFF whose first directory has `tags` entries, each `size` bytes stored at the same place after it."""
    block_at = 8 + 2 + 12 * tags + 4
    entries = b"".join(struct.pack("<HHII", 0x1000 + i, 1, size, block_at) for i in range(tags))
    return b"II*\x00" + struct.pack("<IH", 8, tags) + entries + bytes(4) + bytes(size)


def rle_bmp_of_line_ends(side: int) -> bytes:
    """An RLE8 BMP of side x side pixels: per row one pixel, then "end of line" (Pillow pads it pixel by pixel)."""
    return rle8_bmp(side, side, [b"\x01\x07\x00\x00"] * side)


HOSTILE = {
    "progressive JPEG, last scan repeated 3,000 times": lambda: repeated_last_scan_jpeg(3000),
    "progressive JPEG 5000x5000, 3,000 scans": lambda: eob_run_jpeg(5000, 5000, 3000),
    "5000x5000 JPEG of 150 bytes": lambda: eob_run_jpeg(5000, 5000),
    "12-megapixel phone photo": phone_photo,
    "PNG with 700,000 unknown chunks": lambda: png_with_chunks(700_000),
    "PNG whose EXIF has 2,000 entries at one place": lambda: encode(
        seven((16, 16)), "PNG", exif=b"Exif\x00\x00" + directory_pointing_at_one_place(2000, 40_000, "<", 6)
    ),
    "JPEG whose MPF has 2,000 entries at one place": lambda: jpeg_with_segment(
        0xE2, b"MPF\x00" + directory_pointing_at_one_place(2000, 60_000, ">", None)
    ),
    "JPEG with 2,000,000 empty comments": lambda: jpeg_with_segment(0xFE, b"", 2_000_000),
    "GIF with a 10 MB comment": lambda: gif_with_comment(39_000, 255),
    "GIF with 400,000 one-byte comment blocks": lambda: gif_with_comment(400_000, 1),
    "RLE BMP of 4900x4900 line ends (20 kB)": lambda: rle_bmp_of_line_ends(4900),
    "TIFF whose 4,000 tags all point at one 250 kB block": lambda: tiff_tags_at_one_block(4000, 250_000),
    "25-megapixel palette PNG (the largest accepted)": lambda: encode(seven((5000, 5000), "P"), "PNG"),
    "5000x5000 progressive JPEG of 100 scans (the most accepted)": lambda: eob_run_jpeg(5000, 5000, 100),
}

_COST_PROBE = """
import json, re, sys, time
def memory():
    status = open("/proc/self/status").read()
    return [int(re.search(key + r":\\s+(\\d+)", status).group(1)) / 1024 for key in ("VmHWM", "VmRSS")]
data = open(sys.argv[1], "rb").read()
import numpy
from mnist_core.data.images import ImageError, decode_image_with_notes
from mnist_core.data.preprocess import BlankImageError, TooLittleInkError, preprocess
before, cpu = memory()[1], time.process_time()
open("/proc/self/clear_refs", "w").write("5")  # the peak from here on
try:
    image, notes = decode_image_with_notes(data)
    result = "decoded %dx%d" % image.shape[1::-1]
    try:
        stages = preprocess(image)
        result += ", ink box %s" % (stages.box,)
    except (BlankImageError, TooLittleInkError) as exc:
        result += ", " + str(exc)
except ImageError as exc:
    result = "refused: " + str(exc)
print(json.dumps({"kB": round(len(data) / 1e3, 1), "cpu_seconds": round(time.process_time() - cpu, 3),
    "peak_rss_growth_mb": round(memory()[0] - before, 1), "result": result[:200]}))
"""


def costs(
    repo: Path, timeout: float, hostile: dict[str, Callable[[], bytes]] = HOSTILE, probe: str = _COST_PROBE
) -> dict[str, Any]:
    """CPU and peak memory of decoding + preprocessing each hostile file in a fresh process, with `repo`'s code.

    `probe` is a script that reads the file named by its argument and prints one JSON line.
    """
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as folder:
        for case, build in hostile.items():
            path = Path(folder) / "upload"
            path.write_bytes(build())
            env = {**os.environ, "PYTHONPATH": str(repo)}
            try:
                done = subprocess.run(
                    [sys.executable, "-c", probe, str(path)],
                    capture_output=True,
                    text=True,
                    check=False,
                    timeout=timeout,
                    cwd=repo,
                    env=env,
                )
            except subprocess.TimeoutExpired:
                found[case] = {"error": f"over {timeout:g} s (killed)"}
                continue
            lines = done.stdout.strip().splitlines()
            found[case] = json.loads(lines[-1]) if done.returncode == 0 and lines else {"error": done.stderr[-2000:]}
    return found


def main(argv: list[str] | None = None) -> None:
    parser = fuzz_arguments(__doc__.splitlines()[0], "mutated images")
    parser.add_argument("--costs", action="store_true", help="measure the hostile files instead")
    parser.add_argument("--repo", type=Path, default=_REPO, help="checkout whose mnist_core --costs measures")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per hostile file for --costs")
    args = parser.parse_args(argv)
    result = costs(args.repo.resolve(), args.timeout) if args.costs else fuzz(args.examples, args.seed)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
