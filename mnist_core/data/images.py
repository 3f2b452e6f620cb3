"""Safe decoding of uploaded image files into RGBA arrays, with user-facing errors."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from mnist_core.compat.pillow_workarounds import format_of, signature_matches
from mnist_core.data.image_structure import exif_tiff, ifd_entries, structure_problem

ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")  # Pillow's names; an upload in any other is refused
# For st.file_uploader(type=...): the browser's file picker filters on these.
ACCEPTED_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "bmp", "webp")
_SPELLING = {"WEBP": "WebP"}

ANIMATED_NOTE = "Animated image: using its first frame."
MAX_SIDE = 1024  # longer side of the decoded image; larger ones are reduced by a whole factor
ORIENTATION = 0x0112  # the EXIF tag
_TRANSPOSE = {  # EXIF orientation -> the transposition that makes the image upright (as ImageOps.exif_transpose)
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class ImageError(ValueError):
    """An upload that cannot be used; the message is a sentence to show the user."""


def decode_image(data: bytes, *, max_bytes: int = 10_000_000, max_pixels: int = 25_000_000) -> np.ndarray:
    """Decode an uploaded image into an (H, W, 4) uint8 RGBA array, or raise ImageError."""
    return decode_image_with_notes(data, max_bytes=max_bytes, max_pixels=max_pixels)[0]


def decode_image_with_notes(
    data: bytes,
    *,
    max_bytes: int = 10_000_000,
    max_pixels: int = 25_000_000,
    formats: tuple[str, ...] = ACCEPTED_FORMATS,
) -> tuple[np.ndarray, list[str]]:
    """Like decode_image, plus notes for the user about what was done (e.g. first frame of an animation).

    Only files in `formats` (Pillow's names, a subset of ACCEPTED_FORMATS) are parsed at all; anything else is
    refused from its first bytes. Images longer than MAX_SIDE on a side come back reduced by a whole factor (large
    JPEGs are decoded at a reduced scale in the first place): a 28x28 digit needs no more, and a phone photo would
    otherwise cost hundreds of MB.
    """
    if not data:
        raise ImageError("The file is empty.")
    if len(data) > max_bytes:
        raise ImageError(f"The file is too large ({len(data) / 1e6:.1f} MB): upload one under {max_bytes / 1e6:g} MB.")
    _check_format(data, formats)
    problem = structure_problem(data)
    if problem:
        raise ImageError(problem)
    with _open(data, max_pixels, formats) as img:
        try:
            upright, notes = _decoded(img, max_pixels)
        except ImageError:
            raise
        except Image.DecompressionBombError as exc:
            raise _too_many_pixels(max_pixels) from exc
        except MemoryError as exc:
            raise ImageError("The image needs more memory to decode than this app allows.") from exc
        except Exception as exc:
            # Pillow's parsers and decoders raise a zoo of types (OSError, SyntaxError, ValueError, struct.error,
            # IndexError, ...) on damaged files; all of them mean the same thing to the user.
            raise ImageError(
                "The image data is damaged or incomplete, so it cannot be read. Try saving it again."
            ) from exc
    return np.array(upright), notes


def _decoded(img: Image.Image, max_pixels: int) -> tuple[Image.Image, list[str]]:
    """The first frame as an upright RGBA image no longer than MAX_SIDE, and the notes; Pillow may raise anything."""
    # The size comes from the header: refuse bombs before a single pixel is decoded.
    width, height = img.size
    if width * height > max_pixels:
        raise _too_many_pixels(max_pixels, f" ({width} x {height} pixels)")
    # Phone cameras often save JPEGs with an extra preview picture, which Pillow opens as a 2-frame "MPO".
    notes = [ANIMATED_NOTE] if img.format != "MPO" and getattr(img, "is_animated", False) else []
    factor = -(-max(width, height) // MAX_SIDE)  # ceiling division
    if factor > 1 and img.format in ("JPEG", "MPO"):
        scale = 1 << min(factor.bit_length() - 1, 3)  # libjpeg decodes at 1/2, 1/4 or 1/8 of the size
        img.draft(None, (max(1, width // scale), max(1, height // scale)))
    img.load()  # the first frame: Image.open leaves an animation there
    smaller = _reduced(img)
    method = _TRANSPOSE.get(exif_orientation(img.info.get("exif")))
    upright = smaller.transpose(method) if method is not None else smaller
    return _to_rgba(upright), notes


def _reduced(img: Image.Image) -> Image.Image:
    """img reduced by the whole factor that makes its longer side at most MAX_SIDE (box filter), in a mode to show."""
    factor = -(-max(img.size) // MAX_SIDE)
    if factor <= 1:
        return img
    if img.mode == "1":
        img = img.convert("L")
    elif img.mode in ("P", "PA"):  # averaging palette indices would mix unrelated colours
        img = img.convert("RGBA" if img.mode == "PA" or "transparency" in img.info else "RGB")
    elif img.mode.startswith("I;16"):
        img = img.convert("I")
    # Premultiplied while averaging, so the colour of transparent pixels does not bleed into the edges.
    premultiplied = {"RGBA": "RGBa", "LA": "La"}.get(img.mode)
    if premultiplied:
        return img.convert(premultiplied).reduce(factor).convert(img.mode)
    return img.reduce(factor)


def exif_orientation(exif: object) -> int:
    """The EXIF Orientation (1-8, 1 = upright) from the first directory alone, 1 if there is none.

    Pillow's getexif copies the data of every entry in the directory, and ImageOps.exif_transpose then decodes and
    rewrites them all: a 40 kB PNG whose 2,000 entries all point at the same bytes took 88 s and 1.1 GB.
    """
    if not isinstance(exif, bytes):
        return 1
    block = exif_tiff(exif)
    entries = ifd_entries(block)
    if entries is None:
        return 1
    found = entries[(entries["tag"] == ORIENTATION) & (entries["type"] == 3) & (entries["count"] == 1)]
    if not found.size:
        return 1
    # A short stored in the entry's value field occupies its first two bytes, in the block's byte order.
    value = int(found["value"][0]) >> 16 if block[:2] == b"MM" else int(found["value"][0]) & 0xFFFF
    return value if value in _TRANSPOSE else 1


def _open(data: bytes, max_pixels: int, formats: tuple[str, ...]) -> Image.Image:
    """Open (header only) an image in one of `formats`."""
    try:
        return Image.open(io.BytesIO(data), formats=formats)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limits, far above ours; the warning is only raised if warnings are errors.
        raise _too_many_pixels(max_pixels) from exc
    except MemoryError as exc:
        raise ImageError("The image needs more memory to open than this app allows.") from exc
    except Exception as exc:  # as when decoding: any parser error (or none that knows it) means a damaged header
        raise ImageError(_not_an_image_message(formats)) from exc


def _check_format(data: bytes, formats: tuple[str, ...]) -> None:
    """Refuse a file whose first bytes no format in `formats` accepts, naming the format it is if Pillow knows it.

    Only the signature checks run (Pillow's `_accept` functions on the same 16 bytes Image.open gives them): the other
    formats' readers are never run, as they have none of the structure limits the accepted ones get here.
    """
    prefix = data[:16]
    if any(signature_matches(name, prefix) for name in formats):
        return
    other = format_of(prefix, leaving_out=formats)
    if other is None:
        raise ImageError(_not_an_image_message(formats))
    raise ImageError(f"{other} images are not accepted: upload a {_format_list(formats)} file.")


def _format_list(formats: tuple[str, ...]) -> str:
    """("PNG", "JPEG", "WEBP") -> "PNG, JPEG or WebP"."""
    names = [_SPELLING.get(name, name) for name in formats]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def _not_an_image_message(formats: tuple[str, ...]) -> str:
    return (
        "This file is not a readable image: it is damaged or not an image at all. "
        f"Upload a {_format_list(formats)} file."
    )


def _too_many_pixels(max_pixels: int, size: str = "") -> ImageError:
    return ImageError(f"The image is too large{size}: the limit is {max_pixels / 1e6:g} million pixels.")


def _to_rgba(img: Image.Image) -> Image.Image:
    if img.mode.startswith("I"):  # 16-bit greyscale PNGs: Pillow's convert() would clip at 255
        img = Image.fromarray(_sixteen_to_eight_bits(np.asarray(img)))
    # Palette (with or without transparency), 1-bit, L, LA, RGB and CMYK all convert directly.
    return img.convert("RGBA")


def _sixteen_to_eight_bits(values: np.ndarray) -> np.ndarray:
    """Map 0..65535 onto 0..255 (65535 / 257 = 255), clipping anything outside the 16-bit range."""
    return np.rint(np.clip(values.astype(np.float32), 0, 65535) / 257).astype(np.uint8)
