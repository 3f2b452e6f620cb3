"""Turn a drawing or a photo of a digit into a 28x28 MNIST-style input, the way MNIST itself was made.

MNIST's recipe (LeCun et al.): fit the digit into a 20x20 box keeping its aspect ratio, anti-aliased (hence the
grey levels), then place it in a 28x28 field so that its centre of mass is at the centre of the field.

Centre convention: on MNIST's training images, scipy.ndimage.center_of_mass (pixel-index coordinates, the first
pixel's centre is 0) lies in [13.5, 14.5] on both axes with mean 14.0, and the 20x20 box is filled exactly (no
resampling blur around it). So MNIST moved each digit by whole pixels to put its centre of mass at index (14, 14).
We do the same: the scaled digit is pasted at the integer offset nearest to CENTER, so the final centre of mass is
within half a pixel of CENTER on each axis (unless a very lopsided shape would be pushed out of the field; then
the whole digit is kept in the field instead).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy import ndimage

FIELD = 28
FIT = 20  # the digit's longer side, in pixels
CENTER = (14.0, 14.0)  # (row, col) where MNIST puts the centre of mass; see the module docstring
BLANK_LEVEL = 0.1  # an ink map with no pixel above this is blank
BOX_FRACTION = 0.1  # pixels above this fraction of the strongest ink define the bounding box
MIN_BOX = 3  # a bounding box whose longer side is shorter than this (pixels) is a speck, not a digit
MIN_INK = 0.0002  # total ink (sum of the ink map) as a fraction of the image's area
TRANSPARENT_FRACTION = 0.01  # alpha carries the drawing once this share of pixels is mostly transparent
MAX_BACKGROUND = 0.5  # cap on the background level removed, so a busy border cannot erase the digit
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # ITU-R BT.601


class BlankImageError(ValueError):
    """The image has no ink at all."""

    def __init__(self, message: str = "Draw a digit first: the canvas is empty.") -> None:
        super().__init__(message)


class TooLittleInkError(ValueError):
    """The ink is a speck, too small to be a digit."""

    def __init__(self, message: str = "That is too little ink to be a digit: draw it larger.") -> None:
        super().__init__(message)


@dataclass(frozen=True, eq=False)  # eq=False: arrays have no single truth value to compare by
class Stages:
    """Every step of preprocess, for showing the pipeline."""

    grey: np.ndarray  # float32 (H, W) ink map in [0, 1], 1 = ink
    inverted: bool  # the image was dark ink on a light background
    box: tuple[int, int, int, int]  # (top, left, bottom, right) of the ink, bottom/right exclusive like slicing
    cropped: np.ndarray  # float32 grey[top:bottom, left:right]
    scaled: np.ndarray  # uint8, longer side FIT pixels, aspect ratio kept, max 255
    final: np.ndarray  # uint8 (28, 28), 0 = background, 255 = strongest ink
    center_of_mass: tuple[float, float]  # (row, col) of final, pixel-index coordinates


def to_grey(image: np.ndarray) -> np.ndarray:
    """The float32 (H, W) ink map of an image, in [0, 1] with 1 = ink (see _ink_map for the rules)."""
    return _ink_map(image)[0]


def preprocess(image: np.ndarray, *, min_ink: float = MIN_INK) -> Stages:
    """MNIST-style 28x28 input from a drawing or photo; raises BlankImageError or TooLittleInkError."""
    grey, inverted = _ink_map(image)
    if grey.max() <= BLANK_LEVEL:
        raise BlankImageError()
    box = ink_box(grey)
    top, left, bottom, right = box
    if max(bottom - top, right - left) < MIN_BOX or grey.sum() < min_ink * grey.size:
        raise TooLittleInkError()
    cropped = grey[top:bottom, left:right]
    scaled = _to_uint8(_resize(cropped, _fit_size(cropped.shape)))
    final = _place(scaled)
    center = ndimage.center_of_mass(final)
    return Stages(grey, inverted, box, cropped, scaled, final, (float(center[0]), float(center[1])))


def ink_box(grey: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right) of the pixels above BOX_FRACTION of the strongest ink; bottom/right exclusive."""
    ink = grey > BOX_FRACTION * grey.max()
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def plain_resize(image: np.ndarray) -> np.ndarray:
    """Naive baseline for comparisons: the whole ink map squashed to 28x28 uint8, no crop, fit or centring."""
    return np.rint(_resize(to_grey(image), (FIELD, FIELD)) * 255).astype(np.uint8)


def _ink_map(image: np.ndarray) -> tuple[np.ndarray, bool]:
    """Ink map and whether it was inverted.

    Brightness is alpha when the background is transparent (the canvas: ink of any colour is opaque), else
    BT.601 luminance. If the border is mostly bright the digit is dark on light, so it is inverted. Then the
    background level (border median + 3 median absolute deviations) is subtracted so that paper shading in a
    photo does not become ink; clean drawings have a zero border and are unchanged.
    """
    brightness = _brightness(_as_float(image))
    border = _border(brightness)
    inverted = bool(np.median(border) > 0.5)
    if inverted:
        brightness, border = 1 - brightness, 1 - border
    return _remove_background(brightness, border), inverted


def _as_float(image: np.ndarray) -> np.ndarray:
    """float32 copy in [0, 1] of an (H, W), (H, W, 1), (H, W, 2 = LA), (H, W, 3) or (H, W, 4) image."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] > 4) or 0 in array.shape:
        raise ValueError(f"Expected an (H, W) or (H, W, channels) image, got shape {array.shape}.")
    if np.issubdtype(array.dtype, np.integer):
        return array.astype(np.float32) / np.iinfo(array.dtype).max
    return np.clip(array.astype(np.float32), 0, 1)


def _brightness(values: np.ndarray) -> np.ndarray:
    if values.ndim == 2:
        return values
    channels = values.shape[2]
    if channels in (2, 4):
        alpha = values[..., -1]
        if np.mean(alpha < 0.5) >= TRANSPARENT_FRACTION:
            return alpha
    # min: the weights sum to 1 only up to float32 rounding
    return np.minimum(values[..., :3] @ LUMA, 1) if channels >= 3 else values[..., 0]


def _border(values: np.ndarray) -> np.ndarray:
    return np.concatenate([values[0], values[-1], values[1:-1, 0], values[1:-1, -1]])


def _remove_background(brightness: np.ndarray, border: np.ndarray) -> np.ndarray:
    median = float(np.median(border))
    level = min(median + 3 * float(np.median(np.abs(border - median))), MAX_BACKGROUND)
    if level <= 0:
        return brightness
    # Divide by the remaining range, not by the maximum, so noise on blank paper stays faint (and blank).
    return np.clip((brightness - level) / (1 - level), 0, 1)


def _fit_size(shape: tuple[int, int]) -> tuple[int, int]:
    """(width, height) with the longer side FIT and the aspect ratio kept: a "1" stays thin."""
    height, width = shape
    scale = FIT / max(height, width)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _resize(values: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Anti-aliased resize of a float map to size (width, height)."""
    height, width = values.shape
    shrinking = size[0] <= width and size[1] <= height
    # BOX averages exactly the area each output pixel covers (MNIST-like anti-aliasing, no ringing);
    # for enlarging, BOX would be nearest-neighbour, so interpolate instead.
    resample = Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR
    resized = Image.fromarray(np.ascontiguousarray(values, dtype=np.float32)).resize(size, resample)
    return np.clip(np.asarray(resized), 0, 1)


def _to_uint8(values: np.ndarray) -> np.ndarray:
    """Scale so the strongest ink is 255."""
    return np.rint(values * (255 / values.max())).astype(np.uint8)


def _place(scaled: np.ndarray) -> np.ndarray:
    """Paste into the 28x28 field at the whole-pixel offset that brings the centre of mass nearest CENTER."""
    height, width = scaled.shape
    row, col = ndimage.center_of_mass(scaled)
    top = int(np.clip(np.rint(CENTER[0] - row), 0, FIELD - height))
    left = int(np.clip(np.rint(CENTER[1] - col), 0, FIELD - width))
    final = np.zeros((FIELD, FIELD), dtype=np.uint8)
    final[top : top + height, left : left + width] = scaled
    return final
