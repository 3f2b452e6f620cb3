"""Small, off-centre drawings: preprocess keeps the pretrained model's accuracy, a plain resize loses most of it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from mnist_core.snapshots.pretrained import load_pretrained
from tools.bench_draw import CANVAS, SMALL_PX, resize_digit, robustness, small_offcentre_canvas

N = 300
SEED = 0
# One miss in N is 0.33 points. Preprocessing should cost at most 1.5 points on 1000 digits (the benchmark's
# target); on 300 we allow 2.0 (six more misses than the original digits) for the smaller sample's noise.
# Seeds 0-11 measured drops of -0.67 to +0.67 points.
MAX_DROP_PREPROCESSED = 2.0
# Plain resize measured 24-30% against ~99% preprocessed on seeds 0-11 (a 70-point gap; sampling noise ~2.6
# points). 50 points is far from that, yet fails if the baseline stops being broken or preprocess stops helping.
MIN_PLAIN_RESIZE_GAP = 50.0


@pytest.fixture(scope="module")
def result(mnist) -> dict:
    model = load_pretrained().model
    return robustness(model, mnist.test.x, mnist.test.y, n=N, seed=SEED, k=4)


def test_preprocess_keeps_accuracy_on_small_offcentre_drawings(result):
    assert result["preprocess_rejected"] == 0
    assert result["accuracy_original"] >= 0.97  # the pretrained model itself is fine on this sample
    assert result["drop_preprocessed_points"] <= MAX_DROP_PREPROCESSED, result


def test_plain_resize_is_much_worse(result):
    gap = 100 * (result["accuracy_preprocessed"] - result["accuracy_plain_resize"])
    assert gap >= MIN_PLAIN_RESIZE_GAP, result


def test_canvas_is_an_rgba_drawing_of_the_half_size_digit(mnist):
    digit = mnist.test.x[0]
    canvas = small_offcentre_canvas(digit, np.random.default_rng(1))
    assert canvas.shape == (CANVAS, CANVAS, 4) and canvas.dtype == np.uint8
    # Nothing clipped: all the enlarged digit's ink is on the canvas, and nothing else.
    assert int(canvas[..., 3].sum()) == int(resize_digit(digit, SMALL_PX).sum())
    assert not canvas[canvas[..., 3] == 0].any()  # the background is transparent black, like the page's canvas


def test_canvas_positions_are_inside_and_spread_out():
    # A solid square shows exactly where the 140x140 digit went.
    square = np.full((28, 28), 255, dtype=np.uint8)
    rng = np.random.default_rng(SEED)
    corners = np.array([_block_corner(small_offcentre_canvas(square, rng)) for _ in range(100)])
    assert corners.min() >= 0 and corners.max() <= CANVAS - SMALL_PX
    # Uniform over 0..140 on each axis: 100 draws reach both ends of the range.
    assert corners.min(axis=0).max() <= 20 and corners.max(axis=0).min() >= CANVAS - SMALL_PX - 20


def test_some_drawings_are_really_off_centre(mnist):
    rng = np.random.default_rng(SEED)
    canvases = [small_offcentre_canvas(digit, rng) for digit in mnist.test.x[:50]]
    distances = [np.hypot(*(np.array(ndimage.center_of_mass(c[..., 3])) - CANVAS / 2)) for c in canvases]
    # At most ~99 px is possible (70 px on each axis); a third of the canvas's half-width is clearly off-centre.
    assert sum(d > 45 for d in distances) >= 10


def _block_corner(canvas: np.ndarray) -> tuple[int, int]:
    """(top, left) of the square's ink, checking the whole square is on the canvas."""
    rows = np.flatnonzero(canvas[..., 3].any(axis=1))
    cols = np.flatnonzero(canvas[..., 3].any(axis=0))
    assert len(rows) == len(cols) == SMALL_PX
    return int(rows[0]), int(cols[0])
