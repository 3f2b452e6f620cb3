"""The drawing pad's value decoded: the browser sends {"png": data URL, "strokes": n}, but any JSON can arrive.

The PNG goes through the upload decoder (decode_image_with_notes) with PNG as the only format, after its size has
been read from its header and checked against the pad's, so nothing larger than the pad is ever decoded.
"""

from __future__ import annotations

import base64
import struct

import numpy as np

from mnist_core.data.image_structure import PNG_SIGNATURE
from mnist_core.data.images import ImageError, decode_image_with_notes

PAD_FORMATS = ("PNG",)  # the pad sends canvas.toDataURL("image/png") and nothing else
URL_PREFIX = "data:image/png;base64,"
MAX_URL_CHARS = 2_000_000  # a 280x280 drawing's PNG is a few kB; anything far larger did not come from the pad
# The canvas is size x size pixels; a pad drawn at a high-DPI screen's resolution would have up to 3 per CSS pixel.
PIXEL_RATIO_MARGIN = 3


class DrawingError(ImageError):
    """A pad value that is not a drawing; the message is a sentence to show the user."""


def decode_pad_value(value: object, size: int) -> np.ndarray | None:
    """The drawing on a size x size pad as an (H, W, 4) uint8 RGBA array; None for an empty pad.

    Raises DrawingError for anything else the browser may have sent.
    """
    if value is None:
        return None
    if not isinstance(value, dict) or "png" not in value:
        raise _not_a_drawing("the pad sent no image")
    if value["png"] is None:  # the pad's own message after Undo or Clear has removed every stroke
        return None
    return decode_drawing_url(value["png"], size)


def decode_drawing_url(url: object, size: int) -> np.ndarray:
    """A PNG data URL of at most PIXEL_RATIO_MARGIN * size pixels a side as RGBA, or raise DrawingError."""
    if not isinstance(url, str) or not url.startswith(URL_PREFIX):
        raise _not_a_drawing("it is not a PNG image")
    if len(url) > MAX_URL_CHARS:
        raise _not_a_drawing(f"it is over {MAX_URL_CHARS / 1e6:g} million characters")
    try:
        data = base64.b64decode(url[len(URL_PREFIX) :], validate=True)
    except ValueError:  # binascii.Error, or characters outside ASCII
        raise _not_a_drawing("its data is not valid base64") from None
    header = png_size(data)
    if header is None:
        raise _not_a_drawing("it is not a PNG image")
    limit = PIXEL_RATIO_MARGIN * size
    if not (0 < header[0] <= limit and 0 < header[1] <= limit):
        raise _not_a_drawing(f"it is {header[0]} x {header[1]} pixels, and the pad is {size} x {size}")
    try:
        image, _ = decode_image_with_notes(data, max_pixels=limit * limit, formats=PAD_FORMATS)
    except ImageError:
        raise _not_a_drawing("its image data is damaged") from None
    if max(image.shape[:2]) > limit:  # a second IHDR chunk can give Pillow another size than the first one
        raise _not_a_drawing("its image is larger than the pad")
    return image


def png_size(data: bytes) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR chunk, which the format puts first; None if the bytes do not start so."""
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    return struct.unpack_from(">II", data, 16)


def _not_a_drawing(reason: str) -> DrawingError:
    return DrawingError(f"The drawing could not be read ({reason}). Clear the pad and draw again.")
