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
TRANSPARENT_FRACTION = 0.01  # transparency matters once this share of pixels is mostly transparent
SAME_LEVEL = 0.25  # brightness within this of a level counts as that level (paper shading, sensor noise)
UNIFORM_SHARE = 0.98  # a row, column or ring of pixels is uniform when this share is at one level
ONE_COLOUR = 0.99  # opaque pixels are all strokes of one colour when this share is at one level
FRAME_CONTRAST = 0.3  # a frame's level differs from the background it encloses by more than this
FRAME_BACKGROUND = 2 / 3  # the share of a frame's inside at its own background level (so a filled bar is no frame)
MAX_FRAMES = 4  # frames within frames are peeled up to this depth
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

    Brightness is alpha when the opaque pixels are strokes of one colour on a transparent background (the canvas),
    else BT.601 luminance with transparent pixels shown as the background around them. Uniform frames or margins
    whose level differs from the background they enclose are set aside (they become background). If the
    remaining border is mostly bright the digit is dark on light, so it is inverted. Then the background level
    (border median + 3 median absolute deviations) is subtracted so that paper shading in a photo does not
    become ink; clean drawings have a zero border and are unchanged.
    """
    brightness = _brightness(_as_float(image))
    inside = _inside_frames(brightness)
    content = brightness[inside]
    border = _border(content)
    inverted = bool(np.median(border) > 0.5)
    if inverted:
        content, border = 1 - content, 1 - border
    grey = np.zeros_like(brightness)
    grey[inside] = _remove_background(content, border)
    return grey, inverted


def _as_float(image: np.ndarray) -> np.ndarray:
    """float32 copy in [0, 1] of an (H, W), (H, W, 1), (H, W, 2 = LA), (H, W, 3) or (H, W, 4) image."""
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] > 4) or 0 in array.shape:
        raise ValueError(f"Expected an (H, W) or (H, W, channels) image, got shape {array.shape}.")
    if array.dtype.kind not in "biuf":
        raise ValueError(f"Expected an image of numbers (bool, integer or float), got values of type {array.dtype}.")
    if np.issubdtype(array.dtype, np.integer):
        return np.clip(array.astype(np.float32) / np.iinfo(array.dtype).max, 0, 1)
    values = array.astype(np.float32)
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:  # NaN has no brightness, and it would poison every maximum and median below
        raise ValueError(f"The image has {bad:,} pixel value(s) that are NaN or infinite: expected numbers in [0, 1].")
    return np.clip(values, 0, 1)


def _brightness(values: np.ndarray) -> np.ndarray:
    if values.ndim == 2:
        return values
    channels = values.shape[2]
    # min: the weights sum to 1 only up to float32 rounding
    colour = np.minimum(values[..., :3] @ LUMA, 1) if channels >= 3 else values[..., 0]
    if channels in (1, 3):
        return colour
    alpha = values[..., -1]
    transparent = alpha < 0.5
    if np.mean(transparent) < TRANSPARENT_FRACTION:
        return colour  # a few transparent pixels (or none): the colours as they are
    backdrop = _backdrop(colour, transparent)
    if backdrop is None:
        return alpha  # one colour of ink on a transparent background: the drawing is its alpha
    # Transparent margins show the background of the picture they surround.
    return alpha * colour + (1 - alpha) * backdrop


def _backdrop(colour: np.ndarray, transparent: np.ndarray) -> float | None:
    """The level to show transparent pixels at, or None when alpha alone carries the drawing.

    That level is the colour of the opaque pixels next to transparent ones (a picture's own background around its
    edge, a digit's outline), if it is one level and not the only colour there is (strokes of one colour).
    """
    opaque = colour[~transparent]
    if opaque.size == 0:
        return None
    edge = colour[ndimage.binary_dilation(transparent) & ~transparent]
    level = float(np.median(edge))
    if not _uniform(edge, level, UNIFORM_SHARE) or _uniform(opaque, level, ONE_COLOUR):
        return None
    return level


def _uniform(values: np.ndarray, level: float, share: float) -> bool:
    """Whether at least `share` of values are within SAME_LEVEL of level."""
    return bool(np.mean(np.abs(values - level) <= SAME_LEVEL) >= share)


def _inside_frames(brightness: np.ndarray) -> tuple[slice, slice]:
    """The part of the image inside any uniform frames or margins whose level differs from what they enclose.

    A white frame around a white digit on black, or a dark table around a sheet of paper, would otherwise be taken
    for the background (its border) and everything inside it for ink. A frame's inside must have a uniform edge at
    another level, be mostly at that level, and hold something else (the digit): so the bounding box of a solid
    bar or a boxy stroke is not taken for a frame.
    """
    top, left = 0, 0
    bottom, right = brightness.shape
    for _ in range(MAX_FRAMES):
        region = brightness[top:bottom, left:right]
        level = float(np.median(_border(region)))
        at_level = np.abs(region - level) <= SAME_LEVEL
        rows = np.flatnonzero(at_level.mean(axis=1) < UNIFORM_SHARE)
        cols = np.flatnonzero(at_level.mean(axis=0) < UNIFORM_SHARE)
        if rows.size == 0 or cols.size == 0:
            break  # all at one level: nothing inside
        inner = (top + int(rows[0]), left + int(cols[0]), top + int(rows[-1]) + 1, left + int(cols[-1]) + 1)
        if not _is_framed(brightness[inner[0] : inner[2], inner[1] : inner[3]], level):
            break
        top, left, bottom, right = inner
    return slice(top, bottom), slice(left, right)


def _is_framed(inside: np.ndarray, frame_level: float) -> bool:
    """Whether `inside` is a background of its own (at a level other than the frame's) holding something else."""
    edge = _border(inside)
    level = float(np.median(edge))
    if abs(level - frame_level) <= FRAME_CONTRAST or not _uniform(edge, level, UNIFORM_SHARE):
        return False
    offset = np.abs(inside - level)
    return bool(np.mean(offset <= SAME_LEVEL) >= FRAME_BACKGROUND and (offset > 0.5).any())


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
