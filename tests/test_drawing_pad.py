"""The drawing pad's value decoded (any JSON a browser may send), and the Draw page's explanation HTML."""

import base64
import io
import time
import tracemalloc

import numpy as np
import pytest
from PIL import Image

import ui.drawing_pad as pad
from mnist_core.charts.drawing import explanation_html
from mnist_core.data.drawing_value import MAX_URL_CHARS, DrawingError, decode_pad_value
from mnist_core.data.preprocess import preprocess
from tests.conftest import REPO, counted
from tests.test_app import _navigation_pages_only  # noqa: F401 - a fixture (autouse): pages through st.navigation
from tools import fuzz_pad
from tools.fuzz_images import encode, seven

SIZE = fuzz_pad.SIZE


def _url(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _seven() -> Image.Image:
    pixels = np.zeros((280, 280, 3), np.uint8)
    pixels[50:62, 70:210] = 255
    for row in range(62, 235):
        col = int(210 - (row - 62) * 0.5)
        pixels[row, col - 6 : col + 6] = 255
    return Image.fromarray(pixels)


@pytest.fixture
def no_parsing(monkeypatch):
    """Image.open fails the test: a value refused up front is never parsed."""

    def refuse(*args, **kwargs):
        raise AssertionError("Image.open was called")

    monkeypatch.setattr(Image, "open", refuse)


def _refused(value: object, reason: str) -> None:
    with pytest.raises(DrawingError, match=rf"^The drawing could not be read \({reason}\)\. Clear the pad and draw"):
        decode_pad_value(value, SIZE)


def test_a_drawing_decodes_to_the_rgba_canvas_preprocess_reads():
    image = decode_pad_value({"png": _url(_seven()), "strokes": 2}, SIZE)
    assert image.shape == (280, 280, 4) and image.dtype == np.uint8
    assert preprocess(image).final.max() == 255


def test_an_empty_pad_is_no_drawing_and_no_error():
    assert decode_pad_value(None, SIZE) is None  # the component's default before the first stroke
    assert decode_pad_value({"png": None, "strokes": 0}, SIZE) is None  # after Clear, or Undo of every stroke


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("data:image/png;base64,", "the pad sent no image"),
        ([1, 2], "the pad sent no image"),
        ({"strokes": 3}, "the pad sent no image"),
        ({"png": 12}, "it is not a PNG image"),
        ({"png": ["data:image/png;base64,"]}, "it is not a PNG image"),
        ({"png": "data:image/gif;base64,R0lGODlh"}, "it is not a PNG image"),
        ({"png": "data:image/png;base64,not base64!"}, "its data is not valid base64"),
        ({"png": "data:image/png;base64,iVBOR\u00e9w0KGgo="}, "its data is not valid base64"),
        ({"png": "data:image/png;base64," + "A" * MAX_URL_CHARS}, "it is over 2 million characters"),
        ({"png": "data:image/png;base64," + base64.b64encode(b"garbage").decode()}, "it is not a PNG image"),
        ({"png": _url(_seven(), "GIF")}, "it is not a PNG image"),  # a data URL that claims PNG but is not
    ],
    ids=lambda v: str(v)[:40],
)
def test_any_other_value_is_not_a_drawing(value, reason):
    _refused(value, reason)


@pytest.mark.parametrize(
    ("name", "side"), [("PNG whose header says 20000x20000", 20_000), ("4096x4096 PNG with one stroke", 4096)]
)
def test_a_png_larger_than_the_pad_is_refused_from_its_header(name, side, no_parsing):
    # Before: a DecompressionBombError in the page; the 4096x4096 one was decoded (1.56 s, +577 MB per pass).
    _refused({"png": fuzz_pad.hostile_values()[name]}, f"it is {side} x {side} pixels, and the pad is 280 x 280")


def test_the_pad_allows_three_device_pixels_per_css_pixel():
    assert decode_pad_value({"png": fuzz_pad.data_url(fuzz_pad.pad_png(3 * SIZE))}, SIZE).shape == (840, 840, 4)
    too_large = {"png": fuzz_pad.data_url(fuzz_pad.pad_png(3 * SIZE + 1))}
    _refused(too_large, "it is 841 x 841 pixels, and the pad is 280 x 280")


def test_any_error_pillow_raises_inside_a_small_png_is_not_a_drawing():
    # Before: "SyntaxError: Unknown compression method 5 in zTXt chunk" in the page.
    _refused({"png": fuzz_pad.data_url(fuzz_pad.ztxt_after_idat(method=5))}, "its image data is damaged")
    drawing = fuzz_pad.pad_png()
    _refused({"png": fuzz_pad.data_url(drawing[: len(drawing) // 2])}, "its image data is damaged")


@pytest.mark.parametrize("fmt", ["GIF", "TIFF", "QOI", "DDS", "JPEG", "WEBP", "BMP", "ICO"])
def test_other_formats_in_a_png_data_url_are_refused_without_parsing(fmt, no_parsing):
    _refused({"png": fuzz_pad.data_url(encode(seven(), fmt))}, "it is not a PNG image")


@pytest.mark.parametrize(
    "name", ["TIFF whose 4,000 tags all point at one 250 kB block", "GIF with a comment of 749,000 one-byte blocks"]
)
def test_costly_files_in_a_png_data_url_cost_nothing(name, no_parsing):
    # Before: the TIFF took +957 MB and 1.3 s of CPU; the GIF 6.2 s of CPU, on every run of the Draw page.
    url = fuzz_pad.hostile_values()[name]
    tracemalloc.start()
    cpu = time.process_time()
    try:
        _refused({"png": url}, "it is not a PNG image")
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 4 * len(url)  # a few copies of the value while its base64 is decoded, and no more
    assert time.process_time() - cpu < 1


def test_the_same_value_is_decoded_once_and_gives_the_same_array(monkeypatch):
    calls = {"decode": 0}
    monkeypatch.setattr(pad, "decode_pad_value", counted(calls, "decode", decode_pad_value))
    store: dict = {}
    drawing = {"png": _url(_seven()), "strokes": 1}
    first, problem = pad.decoded_once(drawing, SIZE, store, "slot")
    again, _ = pad.decoded_once(dict(drawing, strokes=1), SIZE, store, "slot")
    assert problem is None and again is first and calls["decode"] == 1  # so the page also preprocesses it once
    hostile = {"png": fuzz_pad.hostile_values()["4096x4096 PNG with one stroke"]}
    for _ in range(3):
        image, problem = pad.decoded_once(hostile, SIZE, store, "slot")
        assert image is None and "4096 x 4096" in problem
    assert calls["decode"] == 2
    assert pad.decoded_once(drawing, SIZE, store, "slot")[0] is not first  # a new value replaces the old one
    assert pad.decoded_once(None, SIZE, store, "slot") == (None, None)


def test_a_bug_while_decoding_is_a_message_and_a_log_line(monkeypatch, caplog):
    def broken(value, size):
        raise KeyError("a bug of ours")

    monkeypatch.setattr(pad, "decode_pad_value", broken)
    assert pad.decoded_once({"png": "x"}, SIZE, {}, "slot") == (None, pad.UNEXPECTED)
    assert "decoding the drawing pad's value failed" in caplog.text


@pytest.mark.timeout(600)
def test_the_draw_page_says_when_the_pad_value_is_not_a_drawing_and_decodes_each_value_once(monkeypatch):
    from streamlit.testing.v1 import AppTest

    from mnist_core.data import preprocess as prep

    sent = {"drawing": {"png": fuzz_pad.hostile_values()["8x8 PNG with a zTXt of compression method 5 after IDAT"]}}
    calls = {"decode": 0, "preprocess": 0}

    monkeypatch.setattr(pad, "_component", lambda: lambda **kwargs: dict(sent))  # what the browser sent
    monkeypatch.setattr(pad, "decode_pad_value", counted(calls, "decode", decode_pad_value))
    monkeypatch.setattr(prep, "preprocess", counted(calls, "preprocess", prep.preprocess))
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    at.switch_page("pages/draw.py").run()
    assert not at.exception, at.exception
    assert any("could not be read (its image data is damaged)" in e.value for e in at.error)
    at.slider(key="draw_stroke").set_value(20).run()
    assert calls == {"decode": 1, "preprocess": 0}
    sent["drawing"] = {"png": _url(_seven()), "strokes": 2}
    at.run()
    assert not at.exception and not at.error, (at.exception, at.error)
    assert any("confident" in h.proto.body for h in at.get("html"))
    at.run()
    next(b for b in at.button if b.label == "New crops").click().run()
    at.radio(key="draw_offsets").set_value("fixed grid").run()
    assert not at.exception, at.exception
    assert calls == {"decode": 2, "preprocess": 1}


def test_the_explanation_has_every_crop_and_stage_inline():
    stages = preprocess(np.asarray(_seven()))
    offsets = np.array([[0, 0], [4, 4], [2, 1], [1, 3]])
    per_crop = np.eye(10)[[7, 7, 1, 7]]
    text = explanation_html(stages, offsets, per_crop)
    assert text.count("<img") == 4 + 5 and text.count("data:image/png;base64,") == 9
    assert "7 · 100%" in text and "1 · 100%" in text and "The 4 crops and their votes" in text
    assert "centred in 28x28" in text and "the 28x28 input, pixel by pixel" in text
