"""preprocess: drawings and photos become MNIST-style 28x28 inputs, the way MNIST was made."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from mnist_core.data.preprocess import (
    CENTER,
    BlankImageError,
    TooLittleInkError,
    plain_resize,
    preprocess,
    to_grey,
)

WHITE = (255, 255, 255, 255)


def canvas(size: int = 280) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """Like the page's drawing canvas: transparent background, white strokes."""
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    return img, ImageDraw.Draw(img)


def seven(fill=WHITE, background=(0, 0, 0, 0), mode: str = "RGBA") -> np.ndarray:
    img = Image.new(mode, (280, 280), background[: len(mode)])
    ImageDraw.Draw(img).line([(70, 60), (210, 60), (120, 230)], fill=fill[: len(mode)], width=22, joint="curve")
    return np.array(img)


def zero() -> np.ndarray:
    img, draw = canvas()
    draw.ellipse([(90, 50), (190, 230)], outline=WHITE, width=20)
    return np.array(img)


def ink_extent(final: np.ndarray) -> tuple[int, int, int, int]:
    """(top, left, bottom, right), inclusive, of the non-zero pixels."""
    rows = np.flatnonzero(final.any(axis=1))
    cols = np.flatnonzero(final.any(axis=0))
    return rows[0], cols[0], rows[-1], cols[-1]


def test_bounding_box_of_a_rectangle():
    img, draw = canvas()
    draw.rectangle([(30, 50), (119, 99)], fill=WHITE)  # PIL's corners are inclusive
    stages = preprocess(np.array(img))
    assert stages.box == (50, 30, 100, 120)  # (top, left, bottom, right), bottom/right exclusive
    assert stages.cropped.shape == (50, 90)
    assert (stages.cropped == 1).all()


@pytest.mark.parametrize(("height", "width", "scaled"), [(200, 40, (20, 4)), (40, 200, (4, 20)), (100, 100, (20, 20))])
def test_aspect_ratio_is_kept(height, width, scaled):
    img, draw = canvas()
    draw.rectangle([(10, 20), (10 + width - 1, 20 + height - 1)], fill=WHITE)
    stages = preprocess(np.array(img))
    assert stages.scaled.shape == scaled
    assert stages.scaled.max() == 255


def lopsided_blobs() -> list[np.ndarray]:
    triangle, draw = canvas()
    draw.polygon([(20, 20), (200, 30), (40, 150)], fill=WHITE)  # a right-ish triangle, top-left of the canvas
    ell, draw = canvas()
    draw.rectangle([(150, 100), (175, 260)], fill=WHITE)
    draw.rectangle([(150, 235), (270, 260)], fill=WHITE)
    blob, draw = canvas()
    draw.ellipse([(180, 10), (270, 120)], fill=WHITE)
    draw.ellipse([(150, 100), (185, 130)], fill=(255, 255, 255, 160))  # a fainter, smaller lump
    return [np.array(img) for img in (triangle, ell, blob)] + [seven(), zero()]


@pytest.mark.parametrize("image", lopsided_blobs(), ids=["triangle", "L", "two-lumps", "seven", "zero"])
def test_centre_of_mass_is_at_the_centre(image):
    stages = preprocess(image)
    row, col = stages.center_of_mass
    assert (row, col) == pytest.approx(ndimage.center_of_mass(stages.final))
    # Whole-pixel placement, like MNIST: within half a pixel of CENTER on each axis.
    assert abs(row - CENTER[0]) <= 0.5 and abs(col - CENTER[1]) <= 0.5


def test_very_lopsided_shape_is_kept_whole_rather_than_centred():
    img, draw = canvas()
    draw.rectangle([(40, 20), (240, 80)], fill=WHITE)  # a heavy bar...
    draw.rectangle([(138, 81), (141, 260)], fill=WHITE)  # ...on a thin stem: the centre of mass is near the top
    stages = preprocess(np.array(img))
    assert stages.final.sum() == stages.scaled.sum()  # nothing was cut off
    assert stages.final[-1].any()  # pushed as far down as the field allows
    assert stages.center_of_mass[0] < CENTER[0] - 1


def test_output_types():
    stages = preprocess(seven())
    assert stages.final.shape == (28, 28) and stages.final.dtype == np.uint8
    assert stages.final.max() == 255 and stages.final.min() == 0
    assert stages.scaled.dtype == np.uint8 and max(stages.scaled.shape) == 20
    assert stages.grey.shape == (280, 280) and stages.grey.dtype == np.float32
    assert stages.grey.min() >= 0 and stages.grey.max() <= 1
    assert stages.cropped.dtype == np.float32
    assert all(isinstance(v, int) for v in stages.box)
    assert all(isinstance(v, float) for v in stages.center_of_mass)


def test_input_is_not_modified():
    image = seven()
    before = image.copy()
    preprocess(image)
    np.testing.assert_array_equal(image, before)


def test_black_digit_on_white_is_inverted():
    image = seven(fill=(0, 0, 0), background=(255, 255, 255), mode="RGB")
    stages = preprocess(image)
    assert stages.inverted
    assert stages.grey[60, 140] == pytest.approx(1)  # on the stroke
    assert stages.grey[200, 30] == 0  # paper
    np.testing.assert_array_equal(stages.final, preprocess(seven()).final)  # same as the canvas drawing


def test_white_digit_on_black_is_not_inverted():
    stages = preprocess(seven(fill=(255, 255, 255), background=(0, 0, 0), mode="RGB"))
    assert not stages.inverted
    assert stages.grey[60, 140] == pytest.approx(1) and stages.grey[200, 30] == 0


def test_transparent_canvas_takes_ink_from_alpha():
    image = seven()
    stages = preprocess(image)
    assert not stages.inverted
    np.testing.assert_allclose(stages.grey, image[..., 3] / 255, atol=1e-6)
    # Black strokes on a transparent background are ink just the same.
    black = seven(fill=(0, 0, 0, 255))
    np.testing.assert_array_equal(preprocess(black).final, stages.final)


def test_opaque_rgba_uses_luminance():
    stages = preprocess(seven(fill=(0, 0, 0, 255), background=(255, 255, 255, 255)))
    assert stages.inverted
    np.testing.assert_array_equal(stages.final, preprocess(seven()).final)


def test_luminance_uses_bt601_weights():
    image = np.zeros((3, 5, 3), dtype=np.uint8)  # a black border, so nothing is taken for background
    image[1, 1, 0] = image[1, 2, 1] = image[1, 3, 2] = 255
    np.testing.assert_allclose(to_grey(image)[1, 1:4], [0.299, 0.587, 0.114], rtol=1e-6)


def test_shaded_paper_photo_does_not_become_ink():
    rng = np.random.default_rng(0)
    # Paper lit unevenly (brightness 0.95 on the left to 0.70 on the right) with sensor noise; a dark pencil "1".
    paper = np.tile(np.linspace(0.95, 0.70, 280), (280, 1)) + rng.normal(0, 0.01, (280, 280))
    paper[60:220, 130:145] = 0.2
    photo = np.rint(np.clip(paper, 0, 1) * 255).astype(np.uint8)
    stages = preprocess(np.stack([photo] * 3, axis=-1))
    assert stages.inverted
    assert stages.box == (60, 130, 220, 145)
    assert stages.grey[:, :100].max() == 0 and stages.grey[:, 200:].max() < 0.1  # the paper is background
    assert stages.scaled.shape == (20, 2)


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((280, 280, 4), dtype=np.uint8),  # untouched canvas
        np.full((100, 80, 3), 255, dtype=np.uint8),  # white paper
        np.zeros((28, 28), dtype=np.uint8),
        np.full((50, 50), 0.04, dtype=np.float32),  # faint haze, below the blank threshold
    ],
    ids=["canvas", "white", "black", "haze"],
)
def test_blank_input(image):
    with pytest.raises(BlankImageError, match="^Draw a digit first: the canvas is empty.$"):
        preprocess(image)


@pytest.mark.parametrize("size", [280, 28])
def test_a_dot_is_too_little_ink(size):
    img, draw = canvas(size)
    draw.rectangle([(size // 2, size // 2), (size // 2 + 1, size // 2 + 1)], fill=WHITE)  # 2x2 pixels
    with pytest.raises(TooLittleInkError, match="too little ink to be a digit"):
        preprocess(np.array(img))


def test_min_ink_is_a_fraction_of_the_area():
    img, draw = canvas()
    draw.rectangle([(100, 100), (109, 109)], fill=WHITE)  # 100 px of ink: 0.13% of the canvas
    assert preprocess(np.array(img)).final.max() == 255
    with pytest.raises(TooLittleInkError):
        preprocess(np.array(img), min_ink=0.002)


def test_digit_fits_mnist_box():
    # MNIST's digits fill a 20x20 box: 20 pixels on the longer side, nothing faint around it.
    for image in (seven(), zero()):
        top, left, bottom, right = ink_extent(preprocess(image).final)
        assert bottom - top + 1 == 20 and right - left + 1 <= 20
    # A symmetric digit sits in the central box, give or take the whole pixel of centring.
    top, left, bottom, right = ink_extent(preprocess(zero()).final)
    assert min(top, left) >= 4 and max(bottom, right) <= 24


def test_real_mnist_digits_come_back_unchanged(mnist):
    # Enlarged 10x as if drawn big, MNIST's own digits should come back as they were: they were made this way.
    digits = mnist.test.x[:40]
    finals = [preprocess(np.kron(digit, np.ones((10, 10), dtype=np.uint8))).final for digit in digits]
    same = sum(np.array_equal(final, digit) for final, digit in zip(finals, digits))
    correlations = [np.corrcoef(final.ravel(), digit.ravel())[0, 1] for final, digit in zip(finals, digits)]
    # Not all: pixels fainter than 10% of the peak don't count for the box, which can change the scale slightly.
    assert same >= len(digits) // 2
    assert np.median(correlations) > 0.99


def dark_with_light_middle(value, dtype, channels: int | None = None) -> np.ndarray:
    image = np.zeros((4, 5) if channels is None else (4, 5, channels), dtype=dtype)
    image[1:3, 1:4] = value
    return image


@pytest.mark.parametrize(
    "image",
    [
        dark_with_light_middle(200, np.uint8),
        dark_with_light_middle(200, np.uint8, channels=1),
        dark_with_light_middle(200, np.uint8, channels=3),
        dark_with_light_middle(200 * 257, np.uint16),
        dark_with_light_middle(200 / 255, np.float64),
    ],
    ids=["grey", "grey-1-channel", "rgb", "uint16", "float"],
)
def test_to_grey_accepts_common_layouts(image):
    grey = to_grey(image)
    assert grey.shape == (4, 5) and grey.dtype == np.float32
    np.testing.assert_allclose(grey, dark_with_light_middle(200 / 255, np.float32), atol=1e-6)


def test_to_grey_inverts_light_backgrounds():
    np.testing.assert_allclose(
        to_grey(255 - dark_with_light_middle(200, np.uint8)), dark_with_light_middle(200 / 255, np.float32), atol=1e-6
    )


def test_to_grey_greyscale_with_alpha():
    image = np.zeros((10, 10, 2), dtype=np.uint8)
    image[2:5, 3:7, 1] = 255  # opaque ink on a transparent background
    np.testing.assert_array_equal(to_grey(image), image[..., 1] / 255)


@pytest.mark.parametrize("shape", [(5,), (4, 5, 6), (0, 5), (2, 3, 4, 1)])
def test_to_grey_rejects_other_shapes(shape):
    with pytest.raises(ValueError, match="Expected an"):
        to_grey(np.zeros(shape, dtype=np.uint8))


def test_plain_resize_squashes_the_whole_image():
    img, draw = canvas()
    draw.rectangle([(0, 0), (69, 139)], fill=WHITE)  # the top-left quarter's width, half the height
    resized = plain_resize(np.array(img))
    assert resized.shape == (28, 28) and resized.dtype == np.uint8
    assert (resized[:14, :7] == 255).all() and (resized[14:] == 0).all() and (resized[:, 7:] == 0).all()


def with_margin(image: np.ndarray, width: int, value) -> np.ndarray:
    """image inside a frame of `width` pixels of `value` (one value per channel)."""
    height, wide = image.shape[:2]
    framed = np.empty((height + 2 * width, wide + 2 * width, *image.shape[2:]), dtype=image.dtype)
    framed[...] = value
    framed[width : width + height, width : width + wide] = image
    return framed


def paper_on_a_desk() -> np.ndarray:
    """A photo-like grey image: a noisy dark desk around a sheet of paper with a black 7 on it."""
    rng = np.random.default_rng(0)
    paper = seven(fill=(0, 0, 0), background=(255, 255, 255), mode="RGB")[..., 0] / 255 * 0.85 + 0.1
    desk = with_margin(paper + rng.normal(0, 0.02, paper.shape), 40, 0.25) + rng.normal(0, 0.03, (360, 360))
    return np.rint(np.clip(desk, 0, 1) * 255).astype(np.uint8)


def transparent_margin(image: np.ndarray, width: int = 2) -> np.ndarray:
    image = image.copy()
    image[:width] = image[-width:] = image[:, :width] = image[:, -width:] = 0
    return image


@pytest.mark.parametrize(
    ("image", "offset"),
    [
        (transparent_margin(seven(fill=(0, 0, 0, 255), background=WHITE)), 0),  # the first example
        (with_margin(seven(fill=(255, 255, 255), background=(0, 0, 0), mode="RGB"), 20, 255), 20),  # the second
        (with_margin(seven(fill=(0, 0, 0), background=(255, 255, 255), mode="RGB"), 25, 0), 25),
        (transparent_margin(with_margin(seven(fill=WHITE, background=(0, 0, 0, 255)), 20, 255), 10), 20),
        (transparent_margin(seven(fill=WHITE, background=(0, 0, 0, 255)), 3), 0),
        (paper_on_a_desk(), 40),
    ],
    ids=["transparent-margin", "white-frame", "black-frame", "margin-and-frame", "margin-on-black", "paper-on-desk"],
)
def test_transparent_margins_and_frames_are_background(image, offset):
    # Read by its ink: the same digit, cut to the same box, as the plain drawing, not the whole frame.
    reference = preprocess(seven())
    stages = preprocess(image)
    top, left, bottom, right = reference.box
    assert stages.box == (top + offset, left + offset, bottom + offset, right + offset)
    assert np.corrcoef(stages.final.ravel(), reference.final.ravel())[0, 1] > 0.99
    top, left, bottom, right = ink_extent(stages.final)
    assert bottom - top + 1 == 20 and right - left + 1 < 20  # a 7 fitted to 20x20, not a square frame


def test_a_solid_bar_or_a_boxy_zero_is_not_taken_for_a_frame():
    bar, draw = canvas()
    draw.rectangle([(130, 40), (150, 240)], fill=WHITE)
    boxy, draw = canvas()
    draw.rectangle([(90, 50), (190, 210)], outline=WHITE, width=22)
    assert preprocess(np.array(bar)).box == (40, 130, 241, 151)
    assert preprocess(np.array(boxy)).box == (50, 90, 211, 191)


def test_several_colours_of_ink_on_a_transparent_background_are_read_from_alpha():
    img, draw = canvas()
    draw.line([(70, 60), (210, 60)], fill=(255, 0, 0, 255), width=22)
    draw.line([(210, 60), (120, 230)], fill=(0, 0, 255, 255), width=22)
    stages = preprocess(np.array(img))
    np.testing.assert_allclose(stages.grey, np.array(img)[..., 3] / 255, atol=1e-6)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_non_finite_pixels_are_refused_with_a_message(bad, dtype):
    image = seven(mode="L", fill=(255,), background=(0,)).astype(dtype) / 255
    image[5, 5] = bad
    with pytest.raises(ValueError, match=r"^The image has 1 pixel value\(s\) that are NaN or infinite"):
        preprocess(image)


@pytest.mark.parametrize("dtype", [np.complex64, object, "U1"])
def test_arrays_of_other_than_numbers_are_refused(dtype):
    with pytest.raises(ValueError, match="Expected an image of numbers"):
        preprocess(np.zeros((28, 28), dtype=dtype))


def test_negative_values_of_signed_integers_are_no_ink():
    image = np.full((28, 28), -100, dtype=np.int8)
    image[5:20, 12:16] = 127
    stages = preprocess(image)
    assert stages.grey.min() == 0 and stages.box == (5, 12, 20, 16)
