"""Safe decoding of uploaded image files into RGBA arrays, with user-facing errors."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
# For st.file_uploader(type=...): the browser's file picker filters on these.
ACCEPTED_EXTENSIONS = ("png", "jpg", "jpeg", "gif", "bmp", "webp")
_ACCEPTED_TEXT = "PNG, JPEG, GIF, BMP or WebP"

ANIMATED_NOTE = "Animated image: using its first frame."


class ImageError(ValueError):
    """An upload that cannot be used; the message is a sentence to show the user."""


def decode_image(data: bytes, *, max_bytes: int = 10_000_000, max_pixels: int = 25_000_000) -> np.ndarray:
    """Decode an uploaded image into an (H, W, 4) uint8 RGBA array, or raise ImageError."""
    return decode_image_with_notes(data, max_bytes=max_bytes, max_pixels=max_pixels)[0]


def decode_image_with_notes(
    data: bytes, *, max_bytes: int = 10_000_000, max_pixels: int = 25_000_000
) -> tuple[np.ndarray, list[str]]:
    """Like decode_image, plus notes for the user about what was done (e.g. first frame of an animation)."""
    if not data:
        raise ImageError("The file is empty.")
    if len(data) > max_bytes:
        raise ImageError(f"The file is too large ({len(data) / 1e6:.1f} MB): upload one under {max_bytes / 1e6:g} MB.")
    with _open(data, max_pixels) as img:
        # The size comes from the header: refuse bombs before a single pixel is decoded.
        width, height = img.size
        if width * height > max_pixels:
            raise _too_many_pixels(max_pixels, f" ({width} x {height} pixels)")
        # Phone cameras often save JPEGs with an extra preview picture, which Pillow opens as a 2-frame "MPO".
        notes = [ANIMATED_NOTE] if img.format != "MPO" and getattr(img, "is_animated", False) else []
        try:
            img.load()  # the first frame: Image.open leaves an animation there
            upright = ImageOps.exif_transpose(img)
        except Image.DecompressionBombError as exc:
            raise _too_many_pixels(max_pixels) from exc
        except Exception as exc:
            # Pillow's decoders raise a zoo of types (OSError, SyntaxError, ValueError, struct.error, ...)
            # on damaged files; all of them mean the same thing to the user.
            raise ImageError(
                "The image data is damaged or incomplete, so it cannot be read. Try saving it again."
            ) from exc
        return _to_rgba(upright), notes


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Open (header only) an image in an accepted format."""
    try:
        return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own limits, far above ours; the warning is only raised if warnings are errors.
        raise _too_many_pixels(max_pixels) from exc
    except UnidentifiedImageError:
        pass
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(_not_an_image_message()) from exc
    other = _identify(data)
    if other is None:
        raise ImageError(_not_an_image_message())
    raise ImageError(f"{other} images are not accepted: upload a {_ACCEPTED_TEXT} file.")


def _identify(data: bytes) -> str | None:
    """The format name of an image Pillow knows but we don't accept, or None."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.format
    except Exception:  # any failure just means "not an image we can name"
        return None


def _not_an_image_message() -> str:
    return f"This file is not a readable image: it is damaged or not an image at all. Upload a {_ACCEPTED_TEXT} file."


def _too_many_pixels(max_pixels: int, size: str = "") -> ImageError:
    return ImageError(f"The image is too large{size}: the limit is {max_pixels / 1e6:g} million pixels.")


def _to_rgba(img: Image.Image) -> np.ndarray:
    if img.mode.startswith("I"):  # 16-bit greyscale PNGs: Pillow's convert() would clip at 255
        img = Image.fromarray(_sixteen_to_eight_bits(np.asarray(img)))
    # Palette (with or without transparency), 1-bit, L, LA, RGB and CMYK all convert directly.
    return np.array(img.convert("RGBA"))


def _sixteen_to_eight_bits(values: np.ndarray) -> np.ndarray:
    """Map 0..65535 onto 0..255 (65535 / 257 = 255), clipping anything outside the 16-bit range."""
    return np.rint(np.clip(values.astype(np.float32), 0, 65535) / 257).astype(np.uint8)
