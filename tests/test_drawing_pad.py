"""The drawing pad's message decoded, and the Draw page's explanation HTML."""

import base64
import io

import numpy as np
from PIL import Image

from mnist_core.charts.drawing import explanation_html
from mnist_core.data.preprocess import preprocess
from ui.drawing_pad import decode_drawing


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


def test_a_drawing_decodes_to_the_rgba_canvas_preprocess_reads():
    image = decode_drawing({"png": _url(_seven()), "strokes": 2})
    assert image.shape == (280, 280, 4) and image.dtype == np.uint8
    assert preprocess(image).final.max() == 255


def test_an_empty_pad_or_a_malformed_message_is_no_drawing():
    assert decode_drawing(None) is None
    assert decode_drawing({"png": None, "strokes": 0}) is None
    assert decode_drawing({"png": "data:image/png;base64,not base64!"}) is None
    assert decode_drawing({"png": "data:image/png;base64," + base64.b64encode(b"garbage").decode()}) is None
    assert decode_drawing({"png": _url(_seven(), "GIF")}) is None  # a data URL that claims PNG but is not
    assert decode_drawing("data:image/png;base64,") is None


def test_the_explanation_has_every_crop_and_stage_inline():
    stages = preprocess(np.asarray(_seven()))
    offsets = np.array([[0, 0], [4, 4], [2, 1], [1, 3]])
    per_crop = np.eye(10)[[7, 7, 1, 7]]
    text = explanation_html(stages, offsets, per_crop)
    assert text.count("<img") == 4 + 5 and text.count("data:image/png;base64,") == 9
    assert "7 · 100%" in text and "1 · 100%" in text and "The 4 crops and their votes" in text
    assert "centred in 28x28" in text and "the 28x28 input, pixel by pixel" in text
