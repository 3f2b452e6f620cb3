"""Fuzz the drawing pad's value: `python -m tools.fuzz_pad --examples N` prints one JSON object.

The pad sends {"png": data URL, "strokes": n}; a hostile browser sends any JSON instead. Inputs: any JSON shape;
data URLs of the pad's own drawings (1x, 2x and 3x its size, palette, 16-bit, animated), of every seed image of
tools.fuzz_images and of formats Pillow reads but the pad never sends (TIFF, QOI, DDS, ICO, TGA, ...), mutated as
tools.fuzz_images mutates files or with IHDR sizes at boundary values, under other MIME types, with broken base64,
padded past the character cap, and the hostile values below. Each goes through decode_pad_value and then
preprocess, as on the Draw page. The property: None (an empty pad), DrawingError, or an RGBA array no larger than
the pad's margin and then Stages or BlankImageError / TooLittleInkError; never another exception; within
tools.fuzz_images' CPU and memory bounds.

`--costs` instead measures, each in a fresh process, what the hostile values cost to decode and preprocess.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from tools import fuzz_images
from tools.fuzz_images import encode, png_bytes, png_chunk, png_chunks, seven, tiff_tags_at_one_block
from tools.fuzzing import fuzz_arguments

SIZE = 280  # the Draw page's pad (pages/draw.py CANVAS)
URL_PREFIX = "data:image/png;base64,"
OTHER_FORMATS = ("TIFF", "QOI", "DDS", "ICO", "TGA", "PCX", "PPM", "SGI", "IM", "SPIDER", "DIB", "JPEG2000")

# --- valid values, and the hostile ones ---


def data_url(data: bytes) -> str:
    return URL_PREFIX + base64.b64encode(data).decode()


def pad_png(side: int = SIZE, mode: str = "RGBA") -> bytes:
    """A drawing as the pad sends it: white strokes on an opaque black square canvas."""
    img = Image.new("RGBA", (side, side), (0, 0, 0, 255))
    scale = side / SIZE
    points = [(70 * scale, 60 * scale), (210 * scale, 60 * scale), (120 * scale, 230 * scale)]
    ImageDraw.Draw(img).line(points, fill=(255, 255, 255, 255), width=max(1, round(18 * scale)))
    if mode == "I;16":
        return encode(Image.fromarray(np.asarray(img.convert("L"), np.uint16) * 257), "PNG")
    return encode(img.convert(mode), "PNG")


@cache
def seeds() -> dict[str, bytes]:
    """The pad's own drawings, the upload fuzzer's seed files and small files of formats the pad never sends."""
    drawing = Image.open(io.BytesIO(pad_png()))
    found = {
        "pad": pad_png(),
        "pad-2x": pad_png(2 * SIZE),
        "pad-3x": pad_png(3 * SIZE),
        "pad-rgb": pad_png(mode="RGB"),
        "pad-palette": pad_png(mode="P"),
        "pad-16-bit": pad_png(mode="I;16"),
        "pad-animated": encode(drawing, "PNG", save_all=True, append_images=[Image.new("RGBA", drawing.size)]),
    }
    found.update({f"upload-{name}": data for name, data in fuzz_images.seeds().items()})
    found.update({f"other-{fmt.lower()}": encode(seven(), fmt) for fmt in OTHER_FORMATS})
    return found


def blank_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of any size, built row by row so it never exists decoded in memory."""
    row = bytes(1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return png_bytes([(b"IHDR", header), (b"IDAT", idat), (b"IEND", b"")])


def ztxt_after_idat(method: int = 5) -> bytes:
    """An 8x8 PNG with a zTXt chunk of compression `method` (only 0 exists) between its pixels and its end."""
    chunks = png_chunks(encode(seven((8, 8)), "PNG"))
    return png_bytes([*chunks[:-1], (b"zTXt", b"note\x00" + bytes([method]) + zlib.compress(b"x")), chunks[-1]])


def stroke_png(side: int) -> bytes:
    """A side x side greyscale PNG with one stroke across it: small as a file, large as pixels."""
    img = Image.new("L", (side, side))
    ImageDraw.Draw(img).line([(side // 8, side // 8), (side * 7 // 8, side * 7 // 8)], fill=255, width=side // 64)
    return encode(img, "PNG")


HOSTILE = {
    "PNG whose header says 20000x20000": lambda: data_url(blank_png(20_000, 20_000)),
    "8x8 PNG with a zTXt of compression method 5 after IDAT": lambda: data_url(ztxt_after_idat()),
    "TIFF whose 4,000 tags all point at one 250 kB block": lambda: data_url(tiff_tags_at_one_block(4000, 250_000)),
    "GIF with a comment of 749,000 one-byte blocks": lambda: data_url(fuzz_images.gif_with_comment(749_000, 1)),
    "4096x4096 PNG with one stroke": lambda: data_url(stroke_png(4096)),
    "QOI in a PNG data URL": lambda: data_url(encode(seven(), "QOI")),
    "the pad's own 280x280 drawing": lambda: data_url(pad_png()),
    "840x840 drawing (3x the pad, the largest accepted)": lambda: data_url(pad_png(3 * SIZE)),
}


@cache
def hostile_values() -> dict[str, str]:
    return {name: build() for name, build in HOSTILE.items()}


# --- values ---

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["png", "strokes"]), inner),
    max_leaves=10,
)
_PREFIXES = [URL_PREFIX] * 12 + [
    "data:image/gif;base64,",
    "data:image/jpeg;base64,",
    "data:image/PNG;base64,",
    "data:image/png,",
    "data:text/html;base64,",
    "",
]
_SIDES = st.sampled_from([0, 1, 279, 280, 281, 840, 841, 1024, 4096, 20_000, 2**31 - 1, 2**32 - 1])


@st.composite
def pad_value(draw: st.DrawFn) -> tuple[str, Any]:
    """(what it is, a value the browser could send)."""
    kind = draw(st.sampled_from(["json", "png json", "url", "url", "url", "url", "url", "hostile"]))
    if kind == "json":
        return "any JSON", draw(_JSON)
    if kind == "png json":
        return "png: any JSON", {"png": draw(_JSON), "strokes": draw(_JSON)}
    if kind == "hostile":
        name = draw(st.sampled_from(sorted(HOSTILE)))
        return name, {"png": hostile_values()[name], "strokes": 1}
    what, url = draw(_url())
    return what, {"png": url, "strokes": draw(st.integers(0, 50))}


@st.composite
def _url(draw: st.DrawFn) -> tuple[str, str]:
    group = draw(st.sampled_from(["pad", "pad", "pad", "upload", "other"]))  # mostly what the pad really sends
    name = draw(st.sampled_from(sorted(name for name in seeds() if name.startswith(group))))
    data, done = seeds()[name], [name]
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from([*fuzz_images.MUTATIONS, "size", "size"]))
        data = _with_size(data, draw(_SIDES), draw(_SIDES)) if kind == "size" else fuzz_images.mutate(draw, kind, data)
        done.append(kind)
    prefix = draw(st.sampled_from(_PREFIXES))
    text = base64.b64encode(data).decode()
    damage = draw(st.sampled_from(["none"] * 12 + ["character", "unpadded", "over the cap"]))
    if damage == "character":
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(["!", " ", "\n", "=", "é", "\x00", "\ud800", "-"])) + text[at:]
    elif damage == "unpadded":
        text = text.rstrip("=")
    elif damage == "over the cap":
        text += "A" * (2_000_001 - len(prefix) - len(text))
    done += [f"prefix {prefix!r}", damage]
    return " ".join(done) + f" ({len(prefix) + len(text)} chars)", prefix + text


def _with_size(data: bytes, width: int, height: int) -> bytes:
    """A PNG whose IHDR says width x height (its checksum kept valid); other files unchanged."""
    chunks = png_chunks(data) if data.startswith(b"\x89PNG") else []
    if not chunks or chunks[0][0] != b"IHDR" or len(chunks[0][1]) < 8:
        return data
    first = png_chunk(b"IHDR", struct.pack(">II", width, height) + chunks[0][1][8:])
    return data[:8] + first + data[8 + 12 + len(chunks[0][1]) :]


# --- outcome of one value ---


def decode_and_preprocess(value: Any) -> str:
    """What the Draw page would show: 'read', 'empty', 'not a drawing: <message>' or 'no digit: <message>'."""
    from mnist_core.data.drawing_value import PIXEL_RATIO_MARGIN, DrawingError, decode_pad_value

    try:
        image = decode_pad_value(value, SIZE)
    except DrawingError as exc:
        return f"not a drawing: {exc}"
    if image is None:
        return "empty"
    if image.ndim == 3 and max(image.shape[:2]) > PIXEL_RATIO_MARGIN * SIZE:
        raise AssertionError(f"decode_pad_value returned a {image.shape[1]}x{image.shape[0]} image")
    return fuzz_images.read_digit(image, "decode_pad_value")


def outcome(value: Any) -> tuple[str, dict[str, Any] | None]:
    """(what the page would show, None) if within tools.fuzz_images' bounds, else (.., what went wrong)."""
    return fuzz_images.outcome(value, decode_and_preprocess)


# --- the command ---


def fuzz(examples: int, seed: int | None = None) -> dict[str, Any]:
    """Try `examples` pad values; every failure, not only the first."""
    kinds = ("read", "empty", "not a drawing", "no digit")
    return fuzz_images.tally(pad_value(), outcome, kinds, examples, seed, lambda what, _: {"input": what[:300]})


_COST_PROBE = """
import json, re, sys, time
def memory():
    status = open("/proc/self/status").read()
    return [int(re.search(key + r":\\s+(\\d+)", status).group(1)) / 1024 for key in ("VmHWM", "VmRSS")]
url = open(sys.argv[1]).read()
import numpy
from mnist_core.data.drawing_value import DrawingError, decode_pad_value
from mnist_core.data.preprocess import BlankImageError, TooLittleInkError, preprocess
before, cpu = memory()[1], time.process_time()
open("/proc/self/clear_refs", "w").write("5")  # the peak from here on
try:
    image = decode_pad_value({"png": url, "strokes": 1}, SIZE)
    result = "decoded %dx%d" % image.shape[1::-1]
    try:
        result += ", ink box %s" % (preprocess(image).box,)
    except (BlankImageError, TooLittleInkError) as exc:
        result += ", " + str(exc)
except DrawingError as exc:
    result = "refused: " + str(exc)
print(json.dumps({"kB": round(len(url) / 1e3, 1), "cpu_seconds": round(time.process_time() - cpu, 3),
    "peak_rss_growth_mb": round(memory()[0] - before, 1), "result": result[:200]}))
""".replace("SIZE", str(SIZE))


def costs(timeout: float) -> dict[str, Any]:
    """CPU and peak memory of each hostile value, decoded and preprocessed in a fresh process."""
    hostile = {name: (lambda build=build: build().encode()) for name, build in HOSTILE.items()}
    return fuzz_images.costs(Path(__file__).resolve().parent.parent, timeout, hostile, _COST_PROBE)


def main(argv: list[str] | None = None) -> None:
    parser = fuzz_arguments(__doc__.splitlines()[0], "pad values")
    parser.add_argument("--costs", action="store_true", help="measure the hostile values instead")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per hostile value for --costs")
    args = parser.parse_args(argv)
    print(json.dumps(costs(args.timeout) if args.costs else fuzz(args.examples, args.seed), indent=1))


if __name__ == "__main__":
    main()
