"""People's own digits as data: what a saved digit must be, the held-out fifth, an epoch's mix and the .npz file.

Pure NumPy. The run store keeps the digits (mnist_core.store.digits), the pages show them, and a training run
reads them through `split_held_out` and `mix_into_epoch`; every rule about them is declared here once.
"""

from __future__ import annotations

import hashlib
import io
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

SIDE = 28
PIXELS = SIDE * SIDE  # bytes of one stored digit: 28x28 uint8, row by row
LABELS = tuple(range(10))
SOURCES = ("drawn", "uploaded")
HELD_OUT_ONE_IN = 5  # one digit in five is never trained on, so accuracy on them means something
MIN_FOR_TRAINING = 20  # fewer digits than this give a held-out part too small to read anything from
DEFAULT_SHARE = 0.05  # the share of each epoch's examples that are one's own digits, when they are on
MAX_SHARE = 0.5


class DigitError(ValueError):
    """A digit, label or source that cannot be saved; the message says why, for the page."""


def checked_label(raw: Any) -> int:
    """`raw` as a label 0-9; DigitError for anything else (a label comes from the browser)."""
    if isinstance(raw, bool) or not isinstance(raw, numbers.Integral) or int(raw) not in LABELS:
        shown = repr(raw)[:20] if isinstance(raw, (str, numbers.Number)) else f"a {type(raw).__name__}"
        raise DigitError(f"A digit's label is a whole number from 0 to 9; {shown} is not one, so nothing was saved.")
    return int(raw)


def checked_source(raw: Any) -> str:
    if raw not in SOURCES:
        raise DigitError(f"A digit comes from one of: {', '.join(SOURCES)}; nothing was saved.")
    return raw


def checked_pixels(raw: Any) -> np.ndarray:
    """`raw` as a 28x28 uint8 image with some ink; DigitError if it is another shape, out of 0-255, or blank."""
    try:
        image = np.asarray(raw)
    except (TypeError, ValueError):
        image = np.zeros(0)
    if image.shape != (SIDE, SIDE) or not (np.issubdtype(image.dtype, np.number) and not np.iscomplexobj(image)):
        raise DigitError(f"A saved digit is a {SIDE}x{SIDE} image; this input is not one, so nothing was saved.")
    if image.dtype != np.uint8:
        if not np.isfinite(image).all() or image.min() < 0 or image.max() > 255:
            raise DigitError("A saved digit's pixels are 0 to 255; these are not, so nothing was saved.")
        image = np.rint(image).astype(np.uint8)
    if not image.any():
        raise DigitError("The drawing is blank: there is no digit to save.")
    return image


def pixels_of(data: Any) -> np.ndarray | None:
    """Stored bytes as a 28x28 uint8 image (a copy), or None when they are not exactly 784 bytes."""
    if not isinstance(data, (bytes, bytearray, memoryview)) or len(data) != PIXELS:
        return None
    return np.frombuffer(bytes(data), np.uint8).reshape(SIDE, SIDE).copy()


def is_held_out(digit_id: int) -> bool:
    """Whether the stored digit `digit_id` is held out of training: a hash of its id, so the same on every run."""
    digest = hashlib.blake2b(int(digit_id).to_bytes(8, "little", signed=True), digest_size=8).digest()
    return int.from_bytes(digest, "little") % HELD_OUT_ONE_IN == 0


@dataclass(frozen=True, eq=False)
class Split:
    """Digits to train on and digits held out to test on, each as MNIST-layout arrays."""

    train_x: np.ndarray
    train_y: np.ndarray
    held_x: np.ndarray
    held_y: np.ndarray


def split_held_out(ids: Any, x: Any, y: Any) -> Split:
    """The digits (their store ids, images (n, 28, 28) and labels (n,)) split into training and held-out parts."""
    ids, x, y = np.asarray(ids, np.int64).ravel(), np.asarray(x, np.uint8), np.asarray(y, np.uint8).ravel()
    if not len(ids) == len(x) == len(y) or x.shape[1:] != (SIDE, SIDE):
        raise ValueError(f"{len(ids)} ids, {len(x)} images of shape {x.shape[1:]} and {len(y)} labels do not match")
    held = np.fromiter((is_held_out(i) for i in ids.tolist()), bool, len(ids))
    return Split(x[~held], y[~held], x[held], y[held])


def unavailable_reason(count: int, class_set: bool = False) -> str | None:
    """Why one's digits (or, `class_set`, the class set) cannot go into training now, or None when there are enough."""
    if count >= MIN_FOR_TRAINING:
        return None
    if class_set:
        first = f"The class set needs at least {MIN_FOR_TRAINING} shared digits (it has {count})"
    else:
        first = f"Save at least {MIN_FOR_TRAINING} digits on the Draw page first (you have {count})"
    return f"{first}: one in {HELD_OUT_ONE_IN} is held out to test on, and fewer leave too few to read anything from."


def repeats_for(share: float, base: int, extra: int) -> int:
    """How many times each extra digit goes into an epoch of `base` examples so that they make `share` of it."""
    if not 0 < share <= MAX_SHARE:
        raise ValueError(f"the share of extra digits is above 0 and at most {MAX_SHARE}, not {share!r}")
    if extra <= 0:
        return 0
    return max(1, round(share * base / ((1 - share) * extra)))


@dataclass(frozen=True, eq=False)
class EpochMix:
    """One epoch's training arrays with the extra digits in; `extra` examples of it are theirs."""

    x: np.ndarray
    y: np.ndarray
    repeats: int
    extra: int


def mix_into_epoch(x: np.ndarray, y: np.ndarray, extra_x: Any, extra_y: Any, share: float) -> EpochMix:
    """MNIST's training arrays with each extra digit repeated so that they make about `share` of the epoch.

    Appended at the end, in order: the epoch's shuffle and its random crops treat them as any other example.
    """
    extra_x, extra_y = np.asarray(extra_x, np.uint8), np.asarray(extra_y, np.uint8).ravel()
    if len(extra_x) != len(extra_y) or (len(extra_x) and extra_x.shape[1:] != x.shape[1:]):
        raise ValueError(f"{len(extra_x)} extra images of shape {extra_x.shape[1:]} and {len(extra_y)} labels")
    repeats = repeats_for(share, len(x), len(extra_x))
    if repeats == 0:
        return EpochMix(x, y, 0, 0)
    more_x, more_y = np.tile(extra_x, (repeats, 1, 1)), np.tile(extra_y, repeats)
    return EpochMix(np.concatenate([x, more_x]), np.concatenate([y, more_y]), repeats, len(more_y))


@dataclass(frozen=True, eq=False)
class ExtraDigits:
    """Saved digits a training run mixes into every epoch (all but the held-out part) and tests on (that part).

    `name` says whose they are, for the page and the chart ("your digits", "the class set").
    """

    split: Split
    name: str = "your digits"
    share: float = DEFAULT_SHARE

    @classmethod
    def of(cls, ids: Any, x: Any, y: Any, name: str = "your digits", share: float = DEFAULT_SHARE) -> ExtraDigits:
        return cls(split_held_out(ids, x, y), name, share)

    def per_epoch(self, base: int) -> int:
        """How many of an epoch's examples are these digits' repeats, in an epoch of `base` MNIST examples."""
        return repeats_for(self.share, base, len(self.split.train_y)) * len(self.split.train_y)

    def mixed(self, x: np.ndarray, y: np.ndarray) -> EpochMix:
        """MNIST's training arrays `x`, `y` with these digits' training part in, at their share."""
        return mix_into_epoch(x, y, self.split.train_x, self.split.train_y, self.share)


def npz_bytes(x: Any, y: Any) -> bytes:
    """The digits as an .npz in MNIST's layout: `x` (n, 28, 28) uint8 and `y` (n,) uint8."""
    x, y = np.asarray(x, np.uint8).reshape(-1, SIDE, SIDE), np.asarray(y, np.uint8).ravel()
    buffer = io.BytesIO()
    np.savez_compressed(buffer, x=x, y=y)
    return buffer.getvalue()
