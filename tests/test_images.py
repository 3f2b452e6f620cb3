"""decode_image: every upload either decodes to RGBA uint8 or fails with a user-facing ImageError."""

from __future__ import annotations

import io
import resource
import struct
import time
import zlib

import numpy as np
import pytest
from PIL import Image

from mnist_core.images import ANIMATED_NOTE, ImageError, decode_image, decode_image_with_notes
from mnist_core.preprocess import BlankImageError, preprocess

ACCEPTED = "PNG, JPEG, GIF, BMP or WebP"


def encode(img: Image.Image, fmt: str, **params) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def two_squares(mode: str = "RGB", size: tuple[int, int] = (30, 20)) -> Image.Image:
    """A black image (width x height) with a white square in its top-left corner."""
    img = Image.new("RGB", size, "black")
    img.paste("white", (0, 0, 8, 8))
    return img.convert(mode)


def blank_png(width: int, height: int) -> bytes:
    """A valid all-black 1-bit PNG of any size, built row by row so it never exists decoded in memory."""
    row = bytes(1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, greyscale
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def peak_memory_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


@pytest.mark.parametrize(
    ("fmt", "mode"), [("PNG", "RGB"), ("JPEG", "RGB"), ("GIF", "P"), ("BMP", "RGB"), ("WEBP", "RGB"), ("PNG", "L")]
)
def test_good_images_decode_to_rgba(fmt, mode):
    rgba, notes = decode_image_with_notes(encode(two_squares(mode), fmt))
    assert rgba.shape == (20, 30, 4) and rgba.dtype == np.uint8
    assert notes == []
    assert (rgba[..., 3] == 255).all()
    # Lossy formats blur the square's edge, so look inside it and far from it.
    assert (rgba[1:6, 1:6, :3] > 200).all()
    assert (rgba[12:, 12:, :3] < 50).all()


def test_decode_image_returns_the_array_alone():
    rgba = decode_image(encode(two_squares(), "PNG"))
    assert isinstance(rgba, np.ndarray) and rgba.shape == (20, 30, 4)


def test_empty_file():
    with pytest.raises(ImageError, match="^The file is empty.$"):
        decode_image(b"")


def test_too_many_bytes():
    data = encode(two_squares(), "PNG")
    with pytest.raises(ImageError, match="too large"):
        decode_image(data, max_bytes=len(data) - 1)


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,  # a PNG signature followed by garbage
        b"This is a text file that someone renamed to digit.png\n" * 20,
    ],
    ids=["png-header-and-garbage", "text-renamed-png"],
)
def test_not_an_image(data):
    with pytest.raises(ImageError, match=f"not a readable image.*{ACCEPTED}"):
        decode_image(data)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image(fmt):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)  # incompressible
    data = encode(Image.fromarray(noise), fmt)
    with pytest.raises(ImageError, match="damaged or incomplete"):
        decode_image(data[: len(data) // 2])


def test_tiff_is_refused_with_the_accepted_formats():
    with pytest.raises(ImageError, match=f"^TIFF images are not accepted: upload a {ACCEPTED} file.$"):
        decode_image(encode(two_squares(), "TIFF"))


def test_decompression_bomb_is_refused_quickly_without_decoding():
    data = blank_png(20_000, 20_000)  # 400 million pixels in about 50 kB
    assert len(data) < 100_000
    limit_before, memory_before = Image.MAX_IMAGE_PIXELS, peak_memory_mb()
    start = time.perf_counter()
    with pytest.raises(ImageError, match="too large"):
        decode_image(data)
    assert time.perf_counter() - start < 1
    assert peak_memory_mb() - memory_before < 100  # decoding would take 400 MB
    assert limit_before == Image.MAX_IMAGE_PIXELS  # the global is untouched


def test_our_pixel_limit_is_checked_before_decoding():
    # 30 million pixels: under Pillow's own limits, over ours.
    with pytest.raises(ImageError, match=r"too large \(6000 x 5000 pixels\): the limit is 25 million pixels"):
        decode_image(blank_png(6000, 5000))
    with pytest.raises(ImageError, match="the limit is 0.0005 million pixels"):
        decode_image(encode(two_squares(), "PNG"), max_pixels=500)


@pytest.mark.filterwarnings("error::PIL.Image.DecompressionBombWarning")
def test_pillow_bomb_warning_raised_as_error_still_gives_image_error():
    with pytest.raises(ImageError, match="too large"):
        decode_image(blank_png(12_000, 12_000))  # between Pillow's warning and error limits


def animation(fmt: str) -> bytes:
    first = two_squares()
    second = Image.new("RGB", first.size, "white")
    return encode(first, fmt, save_all=True, append_images=[second], duration=100, loop=0)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animated_image_uses_first_frame(fmt):
    rgba, notes = decode_image_with_notes(animation(fmt))
    assert notes == [ANIMATED_NOTE]
    assert rgba.shape == (20, 30, 4)
    assert (rgba[1:6, 1:6, :3] > 200).all() and (rgba[12:, 12:, :3] < 50).all()  # the first frame, not the white one


def test_phone_jpeg_with_a_preview_picture_is_not_an_animation():
    # Phone cameras save "MPO" JPEGs: the photo plus a second, preview picture.
    preview = Image.new("RGB", (30, 20), "white")
    rgba, notes = decode_image_with_notes(encode(two_squares(), "MPO", save_all=True, append_images=[preview]))
    assert notes == []
    assert (rgba[1:6, 1:6, :3] > 200).all() and (rgba[12:, 12:, :3] < 50).all()


def test_palette_png_with_transparency():
    img = Image.new("P", (4, 2))
    img.putpalette([0, 0, 0, 255, 0, 0, 0, 0, 255])
    img.putdata([0, 1, 2, 1, 0, 0, 1, 2])
    rgba = decode_image(encode(img, "PNG", transparency=0))
    expected = np.array(
        [
            [[0, 0, 0, 0], [255, 0, 0, 255], [0, 0, 255, 255], [255, 0, 0, 255]],
            [[0, 0, 0, 0], [0, 0, 0, 0], [255, 0, 0, 255], [0, 0, 255, 255]],
        ],
        dtype=np.uint8,
    )
    np.testing.assert_array_equal(rgba, expected)


def test_palette_png_without_transparency():
    img = Image.new("P", (2, 1))
    img.putpalette([10, 20, 30, 200, 150, 100])
    img.putdata([0, 1])
    rgba = decode_image(encode(img, "PNG"))
    np.testing.assert_array_equal(rgba, [[[10, 20, 30, 255], [200, 150, 100, 255]]])


def test_sixteen_bit_greyscale_is_scaled_not_clipped():
    values = np.array([[0, 257, 32768, 65535]], dtype=np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    with Image.open(io.BytesIO(data)) as img:
        assert img.mode.startswith("I")  # really a 16-bit PNG
    rgba = decode_image(data)
    np.testing.assert_array_equal(rgba[0, :, 0], [0, 1, 128, 255])
    np.testing.assert_array_equal(rgba[0, :, 0], rgba[0, :, 2])
    assert (rgba[..., 3] == 255).all()


def test_cmyk_jpeg_becomes_rgb():
    img = Image.new("CMYK", (32, 16), (0, 0, 0, 0))  # no ink: white
    img.paste((0, 0, 0, 255), (16, 0, 32, 16))  # full black ink
    data = encode(img, "JPEG", quality=95)
    with Image.open(io.BytesIO(data)) as opened:
        assert opened.mode == "CMYK"
    rgba = decode_image(data)
    assert rgba.shape == (16, 32, 4)
    assert (rgba[:, :12, :3] > 240).all() and (rgba[:, 20:, :3] < 15).all()


def test_greyscale_with_alpha():
    img = Image.new("LA", (3, 1))
    img.putdata([(0, 0), (255, 255), (100, 128)])
    np.testing.assert_array_equal(decode_image(encode(img, "PNG")), [[[0, 0, 0, 0], [255] * 4, [100, 100, 100, 128]]])


def test_exif_orientation_is_applied():
    img = two_squares(size=(40, 20))  # landscape as stored...
    exif = Image.Exif()
    exif[0x0112] = 6  # ...but the camera was turned: rotate 90 degrees clockwise to view
    rgba = decode_image(encode(img, "JPEG", exif=exif.tobytes()))
    assert rgba.shape == (40, 20, 4)
    assert (rgba[1:6, -6:-1, :3] > 200).all()  # the top-left square is now top-right


def test_image_without_ink_decodes_but_is_blank():
    for img in (Image.new("RGB", (50, 40), "white"), Image.new("RGBA", (50, 40), (0, 0, 0, 0))):
        rgba = decode_image(encode(img, "PNG"))
        assert rgba.shape == (40, 50, 4)
        with pytest.raises(BlankImageError):
            preprocess(rgba)


def test_image_errors_are_value_errors():
    assert issubclass(ImageError, ValueError)
