"""HTML for the Draw page's explanations: every crop with its vote, and the preprocessing stages.

One HTML block with the pictures inline (PNG data URIs) arrives in the same message as the answer, instead of a
dozen image elements the browser fetches one by one afterwards (docs/performance.md, "The browser").
"""

from __future__ import annotations

import base64
import html

import numpy as np

from mnist_core.charts.stream import digit_png, enlarge
from mnist_core.data.preprocess import Stages

CROP = 24
DRAWING_CSS = """
<style>
.mnl-row{display:flex;flex-wrap:wrap;gap:14px;margin:4px 0 12px}
.mnl-fig{display:flex;flex-direction:column;align-items:center;gap:4px;font:13px/1.2 sans-serif;color:#555}
.mnl-fig img{image-rendering:pixelated;border-radius:4px;background:#000}
.mnl-head{font-weight:600;margin:8px 0 4px}
</style>
"""


def _uri(image: np.ndarray) -> str:
    pixels = np.asarray(image)
    if pixels.dtype != np.uint8:
        pixels = (np.clip(pixels, 0, 1) * 255).round().astype(np.uint8)
    return "data:image/png;base64," + base64.b64encode(digit_png(pixels)).decode()


def _figure(image: np.ndarray, caption: str, width: int) -> str:
    """One picture shown `width` pixels wide (pixels kept square and sharp by the CSS) above its caption."""
    text = html.escape(caption)
    return f'<div class="mnl-fig"><img src="{_uri(image)}" alt="{text}" width="{width}"><span>{text}</span></div>'


def crops_html(final: np.ndarray, offsets: np.ndarray, per_crop: np.ndarray) -> str:
    """Each 24x24 crop of the 28x28 input at its (row, col) offset, captioned with its vote and confidence."""
    figures = []
    for (r, c), probs in zip(np.asarray(offsets, dtype=int), per_crop):
        vote = int(probs.argmax())
        figures.append(_figure(final[r : r + CROP, c : c + CROP], f"{vote} · {probs[vote]:.0%}", 72))
    title = f"The {len(figures)} crops and their votes"
    return f'<div class="mnl-head">{title}</div><div class="mnl-row">{"".join(figures)}</div>'


def stages_html(stages: Stages) -> str:
    """The preprocessing steps, then the 28x28 input enlarged with its pixel grid."""
    steps = [
        _figure(stages.grey, "ink", 84),
        _figure(stages.cropped, "cut to the ink", 84),
        _figure(stages.scaled, "fitted to 20x20", 84),
        _figure(stages.final, "centred in 28x28", 84),
    ]
    grid = _figure(enlarge(stages.final, 8, grid=True)[..., 0], "the 28x28 input, pixel by pixel", 224)
    return (
        f'<div class="mnl-head">What the network gets</div><div class="mnl-row">{"".join(steps)}</div>'
        f'<div class="mnl-row">{grid}</div>'
    )


def explanation_html(stages: Stages, offsets: np.ndarray, per_crop: np.ndarray) -> str:
    """The crops and the stages in one block, styled once."""
    return DRAWING_CSS + crops_html(stages.final, offsets, per_crop) + stages_html(stages)
