"""Every place the app reaches into Pillow's internals, checked against the installed Pillow.

`VERIFIED` is the range of Pillow versions these were verified on; `INTERNALS` names what each relies on and
`PROBES` checks behaviour a name alone does not show; tests/test_library_workarounds.py fails naming what changed.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, JpegImagePlugin

VERIFIED = {"PIL": ("12.3", "13")}
INTERNALS: dict[str, tuple[str, str]] = {
    # format_of: Pillow's registry of formats and their signature checks (`_accept`).
    "format_of": ("PIL.Image", "OPEN"),
    "format_of_order": ("PIL.Image", "ID"),
    # data.image_structure walks a JPEG's markers before its first scan the way this method does, to bound its cost.
    "jpeg_marker_walk": ("PIL.JpegImagePlugin", "JpegImageFile._open"),
    "jpeg_marker_table": ("PIL.JpegImagePlugin", "MARKER"),
}


def signature_matches(name: str, prefix: bytes) -> bool:
    """Whether format `name`'s own signature check accepts these first bytes (16, as Image.open gives it)."""
    Image.init()
    accept = Image.OPEN.get(name, (None, None))[1]
    if accept is None:  # formats without a signature check are never guessed
        return False
    try:
        found = accept(prefix)
    except Exception:  # noqa: BLE001 - a signature check that trips over 16 odd bytes has not recognised them
        return False
    return bool(found) and not isinstance(found, str)  # a string is Pillow's "not this format, and why"


def format_of(prefix: bytes, leaving_out: tuple[str, ...] = ()) -> str | None:
    """The first format Pillow would try whose signature check accepts `prefix`, other than those left out."""
    Image.init()
    return next((name for name in Image.ID if name not in leaving_out and signature_matches(name, prefix)), None)


def _signatures_tell_formats_apart() -> bool:
    png, gif = b"\x89PNG\r\n\x1a\n" + bytes(8), b"GIF89a" + bytes(10)
    return format_of(png) == "PNG" and format_of(gif) == "GIF" and format_of(bytes(16)) is None


def _jpeg_markers_walked_one_by_one() -> bool:
    """Pillow reads each comment segment before the frame header (the walk image_structure bounds)."""
    comments = b"".join(b"\xff\xfe" + struct.pack(">H", 2 + len(text)) + text for text in (b"one", b"two"))
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, "JPEG")
    data = buffer.getvalue()
    with Image.open(io.BytesIO(data[:2] + comments + data[2:])) as image:
        return image.format == "JPEG" and image.info.get("comment") == b"two" and 0xFFFE in JpegImagePlugin.MARKER


PROBES = {"format_of": _signatures_tell_formats_apart, "jpeg_marker_walk": _jpeg_markers_walked_one_by_one}
