"""decode_image: every upload either decodes to RGBA uint8 or fails with a user-facing ImageError."""

from __future__ import annotations

import io
import resource
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageOps

from mnist_core.data.images import ANIMATED_NOTE, ImageError, decode_image, decode_image_with_notes
from mnist_core.data.preprocess import BlankImageError, preprocess
from tests.conftest import REPO, counted
from tests.test_app import _navigation_pages_only  # noqa: F401 - a fixture (autouse): pages through st.navigation
from tools import fuzz_images as fuzz

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


def test_a_format_not_accepted_is_named_from_its_signature_without_being_parsed(no_parsing):
    # Before: Pillow opened it in full to name its format; this 298 kB TIFF took 2.3 s of CPU and +950 MB.
    data = fuzz.tiff_tags_at_one_block(4000, 250_000)
    with pytest.raises(ImageError, match=f"^TIFF images are not accepted: upload a {ACCEPTED} file.$"):
        decode_image(data)


def test_the_formats_parsed_can_be_narrowed():
    png_only = {"formats": ("PNG",)}
    assert decode_image_with_notes(encode(two_squares(), "PNG"), **png_only)[0].shape == (20, 30, 4)
    for fmt in ("GIF", "TIFF"):
        with pytest.raises(ImageError, match=f"^{fmt} images are not accepted: upload a PNG file.$"):
            decode_image_with_notes(encode(two_squares(), fmt), **png_only)
    with pytest.raises(ImageError, match="not a readable image.*Upload a PNG or WebP file.$"):
        decode_image_with_notes(b"not an image at all", formats=("PNG", "WEBP"))


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


# --- issue 15: hostile files ---


def gif_with_second_frame_cut_short() -> bytes:
    data = animation("GIF")
    second = [at for at in fuzz.gif_blocks(data) if data[at] == 0x2C][1]  # "," and 9 bytes of position and size
    return data[: second + 4]


def palette_png_with_long_trns() -> bytes:
    """A palette PNG of 2 colours whose tRNS chunk gives alpha values for 300 palette entries."""
    img = Image.new("P", (8, 8))
    img.putpalette([0, 0, 0, 255, 255, 255])
    img.paste(1, (2, 2, 6, 6))
    chunks = fuzz.png_chunks(encode(img, "PNG"))  # IHDR, PLTE, IDAT, IEND
    return fuzz.png_bytes(chunks[:2] + [(b"tRNS", bytes(299) + b"\x80")] + chunks[2:])


def gif_header(img: Image.Image) -> bytes:
    """A GIF's header and global colour table alone."""
    data = encode(img, "GIF")
    return data[: 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (gif_with_second_frame_cut_short(), "damaged or incomplete"),
        (palette_png_with_long_trns(), "damaged or incomplete"),
        (encode(two_squares("P"), "GIF")[:-1] + b"!", "damaged or incomplete"),  # "!" (an extension), then nothing
        (gif_header(two_squares("P")) + b"!", "not a readable image"),  # the same before the first image
    ],
    ids=["gif-second-frame-cut", "png-trns-longer-than-palette", "gif-ends-in-extension", "gif-header-then-extension"],
)
def test_any_error_pillow_raises_on_a_damaged_file_is_an_image_error(data, message):
    with pytest.raises(ImageError, match=message):
        decode_image(data)


@pytest.fixture
def no_parsing(monkeypatch):
    """Image.open fails the test: a file refused up front is never parsed."""

    def refuse(*args, **kwargs):
        raise AssertionError("Image.open was called")

    monkeypatch.setattr(Image, "open", refuse)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (fuzz.repeated_last_scan_jpeg(3000), r"The JPEG file has 3,01\d scans \(an ordinary one has about 10"),
        (fuzz.eob_run_jpeg(5000, 5000, scans=101), "The JPEG file has 101 scans"),
    ],
    ids=["last-scan-repeated", "101-scans"],
)
def test_a_jpeg_with_thousands_of_scans_is_refused_before_decoding(data, message, no_parsing):
    with pytest.raises(ImageError, match=message):
        decode_image(data)


def test_ordinary_progressive_jpegs_still_decode():
    for data in (fuzz.seeds()["jpeg-progressive"], fuzz.eob_run_jpeg(800, 600, scans=100)):
        assert decode_image(data).shape[2] == 4


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (fuzz.png_with_chunks(700_000), "The PNG file has more than 20,000 chunks"),
        (fuzz.jpeg_with_segment(0xFE, b"", 2_000_000), "more than 2,000 markers or stray bytes before its image"),
        (fuzz.gif_with_comment(39_000, 255), "The GIF file's comments are over 256,000 bytes"),
        (fuzz.gif_with_comment(400_000, 1), "The GIF file has more than 100,000 blocks before its second frame"),
        (fuzz.rle_bmp_of_line_ends(4900), "Run-length encoded BMP files are accepted up to 1 million pixels"),
        (
            fuzz.jpeg_with_segment(0xE2, b"MPF\x00" + fuzz.directory_pointing_at_one_place(2000, 60_000, ">", None)),
            "multi-picture data points at more data than it holds",
        ),
        (
            fuzz.jpeg_with_segment(0xE1, b"Exif\x00\x00" + fuzz.directory_pointing_at_one_place(2000, 60_000, "<", 6)),
            "EXIF data points at more data than it holds",
        ),
    ],
    ids=["png-chunks", "jpeg-comments", "gif-long-comment", "gif-tiny-blocks", "rle-bmp", "jpeg-mpf", "jpeg-exif"],
)
def test_files_whose_structure_costs_too_much_to_parse_are_refused_before_parsing(data, message, no_parsing):
    # Each of these took 1.8 s to over 300 s of CPU (the MPF one also +705 MB) before it was refused or read.
    with pytest.raises(ImageError, match=message):
        decode_image(data)


def test_counts_under_the_limits_still_decode():
    digit = fuzz.seven((28, 28))
    chunks = fuzz.png_chunks(encode(digit, "PNG"))
    pixels = b"".join(payload for kind, payload in chunks if kind == b"IDAT")
    split = [(b"IDAT", pixels[i : i + 1]) for i in range(len(pixels))] + [(b"zzZz", b"")] * 5000
    assert decode_image(fuzz.png_bytes(chunks[:1] + split + chunks[-1:])).shape == (28, 28, 4)
    assert decode_image(fuzz.gif_with_comment(900, 255)).shape == (28, 28, 4)
    assert decode_image(fuzz.jpeg_with_segment(0xFE, b"a comment", 1000)).shape == (28, 28, 4)
    assert decode_image(fuzz.seeds()["bmp-rle8"]).shape == (20, 24, 4)


def test_an_exif_directory_pointing_many_entries_at_one_place_costs_nothing():
    # Pillow's exif_transpose took 88 s and 1.1 GB on this 40 kB PNG; only the Orientation entry is read now.
    exif = b"Exif\x00\x00" + fuzz.directory_pointing_at_one_place(2000, 40_000, "<", 6)
    start = time.process_time()
    rgba = decode_image(encode(two_squares(size=(40, 20)), "PNG", exif=exif))
    assert time.process_time() - start < 5
    assert rgba.shape == (40, 20, 4) and (rgba[1:6, -6:-1, :3] > 200).all()  # turned as the camera was


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "JPEG"])
@pytest.mark.parametrize("byte_order", ["<", ">"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow(fmt, byte_order, orientation):
    data = encode(two_squares(size=(40, 20)), fmt, exif=fuzz.exif_block(orientation, byte_order))
    with Image.open(io.BytesIO(data)) as img:
        expected = np.asarray(ImageOps.exif_transpose(img).convert("RGBA"))
    np.testing.assert_array_equal(decode_image(data), expected)


def test_large_images_are_decoded_at_reduced_size():
    # A 5000x5000 JPEG of 150 bytes took +859 MB; libjpeg now decodes it at 1/8 of its size.
    assert decode_image(fuzz.eob_run_jpeg(5000, 5000)).shape == (625, 625, 4)
    # Other formats are reduced by a whole factor after decoding: 3000 / 3 = 1000 <= MAX_SIDE.
    assert decode_image(encode(two_squares(size=(3000, 2000)), "PNG")).shape == (667, 1000, 4)
    assert decode_image(encode(two_squares(size=(1024, 200)), "PNG")).shape == (200, 1024, 4)  # not reduced


def test_a_phone_photo_is_read_at_reduced_size():
    stages = preprocess(decode_image(fuzz.phone_photo()))
    assert stages.grey.shape == (750, 1000)
    assert stages.inverted and stages.box == pytest.approx((210, 335, 590, 665), abs=20)  # the 7, a quarter the size


def test_a_large_transparent_drawing_reads_like_a_small_one():
    # Premultiplied while reduced: transparent pixels' colour does not bleed into the strokes' edges.
    big = Image.new("RGBA", (2800, 2800), (0, 0, 0, 0))
    ImageDraw.Draw(big).line([(700, 600), (2100, 600), (1200, 2300)], fill=(255, 255, 255, 255), width=220)
    small = big.resize((280, 280), Image.Resampling.BOX)
    from_big = preprocess(decode_image(encode(big, "PNG")))
    assert from_big.grey.shape == (934, 934)  # reduced by 3
    assert np.corrcoef(from_big.final.ravel(), preprocess(np.array(small)).final.ravel())[0, 1] > 0.98


MEMORY_PROBE = """
import sys
from mnist_core.data.images import decode_image
from mnist_core.data.preprocess import preprocess
from tools.fuzz_images import memory_mb, reset_peak
data = open(sys.argv[1], "rb").read()
before = memory_mb()[1]
reset_peak()
try:
    preprocess(decode_image(data))
except ValueError:  # blank
    pass
print(memory_mb()[0] - before)
"""


@pytest.mark.parametrize("which", ["phone-photo", "5000x5000-jpeg"])
def test_an_upload_costs_little_memory(which, tmp_path):
    # Before: +364 MB for the phone photo, +859 MB for the 5000x5000 JPEG (decoded and preprocessed in full).
    path = tmp_path / "upload"
    path.write_bytes(fuzz.phone_photo() if which == "phone-photo" else fuzz.eob_run_jpeg(5000, 5000, scans=1))
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path)], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert float(done.stdout) < 150, done.stdout  # measured: 28 MB and 51 MB


@pytest.mark.timeout(600)
def test_the_draw_page_decodes_and_preprocesses_an_upload_once(monkeypatch):
    # The page reruns on every widget change (and its answer every 3 s while a job trains): an upload is decoded
    # and preprocessed once, not on every rerun.
    from streamlit.testing.v1 import AppTest

    from mnist_core.data import images
    from mnist_core.data import preprocess as prep

    calls = {"decode": 0, "preprocess": 0}

    monkeypatch.setattr(images, "decode_image_with_notes", counted(calls, "decode", images.decode_image_with_notes))
    monkeypatch.setattr(prep, "preprocess", counted(calls, "preprocess", prep.preprocess))
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/draw.py").run()
    at.segmented_control(key="draw_source").set_value("Upload an image").run()
    at.file_uploader[0].upload("seven.png", encode(fuzz.seven((280, 280)), "PNG"), "image/png").run()
    assert not at.exception, at.exception
    assert any("confident" in h.proto.body for h in at.get("html"))
    assert calls == {"decode": 1, "preprocess": 1}
    at.run()
    next(b for b in at.button if b.label == "New crops").click().run()
    at.radio(key="draw_offsets").set_value("fixed grid").run()
    assert not at.exception, at.exception
    assert calls == {"decode": 1, "preprocess": 1}
    at.file_uploader[0].upload("bad.png", b"\x89PNG\r\n\x1a\n" + bytes(64), "image/png").run()
    at.run()
    assert any("bad.png" in e.value and "could not be used" in e.value for e in at.error)
    assert calls == {"decode": 2, "preprocess": 1}
