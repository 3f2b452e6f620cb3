"""HTML for the stream of recent test digits: each image with its top-3 classes as bars."""

from __future__ import annotations

import base64
import html
import io

import numpy as np
from PIL import Image

from mnist_core.training.run_state import StreamPrediction

_RIGHT, _WRONG, _OTHER = "#2e9e4f", "#d62728", "#9aa5b1"

STREAM_CSS = """
<style>
.mnl-stream{display:flex;flex-wrap:wrap;gap:8px}
.mnl-card{display:flex;gap:6px;align-items:center;border:1px solid rgba(128,128,128,.3);border-radius:6px;
  padding:4px 6px;width:150px;font:12px/1.2 sans-serif}
.mnl-card img{width:42px;height:42px;image-rendering:pixelated;border-radius:3px}
.mnl-bars{flex:1}
.mnl-row{display:flex;align-items:center;gap:4px;height:13px}
.mnl-row span{width:10px;text-align:right}
.mnl-bar{height:9px;border-radius:2px}
</style>
"""


def digit_png(image: np.ndarray) -> bytes:
    """A uint8 greyscale image as PNG bytes: a 28x28 digit, or a sheet of them (white ink on black, as MNIST)."""
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def stream_html(predictions: list[StreamPrediction], images: np.ndarray) -> str:
    """Cards for the given predictions; `images` is the test set they index into."""
    cards = [_card(p, images[p.index]) for p in predictions]
    return STREAM_CSS + '<div class="mnl-stream">' + "".join(cards) + "</div>"


def _card(p: StreamPrediction, image: np.ndarray) -> str:
    src = "data:image/png;base64," + base64.b64encode(digit_png(image)).decode()
    rows = []
    for rank, (cls, prob) in enumerate(zip(p.classes, p.probabilities)):
        colour = (_RIGHT if p.correct else _WRONG) if rank == 0 else (_RIGHT if cls == p.label else _OTHER)
        width = max(1.0, 100 * prob)
        rows.append(
            f'<div class="mnl-row"><span>{cls}</span><div class="mnl-bar" '
            f'style="width:{width:.0f}%;background:{colour}"></div><small>{prob:.0%}</small></div>'
        )
    verdict = "right" if p.correct else f"wrong, true {p.label}"
    title = html.escape(f"test image #{p.index}: true label {p.label}, predicted {p.classes[0]} ({verdict})")
    bars = "".join(rows)
    return (
        f'<div class="mnl-card" title="{title}"><img alt="{title}" src="{src}"><div class="mnl-bars">{bars}</div></div>'
    )


def enlarge(image: np.ndarray, scale: int = 8, grid: bool = False) -> np.ndarray:
    """Nearest-neighbour enlargement of a 2-D image (uint8, or float in [0, 1]), optionally with pixel gridlines."""
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        pixels = (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8)
    big = np.asarray(
        Image.fromarray(pixels, mode="L").resize((pixels.shape[1] * scale, pixels.shape[0] * scale), Image.NEAREST)
    )
    if not grid:
        return big
    rgb = np.repeat(big[..., None], 3, axis=2)
    rgb[::scale, :] = rgb[:, ::scale] = (70, 70, 90)  # gridlines a shade off black, visible on the background
    return rgb
