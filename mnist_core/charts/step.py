"""HTML for a Step's batch: each image with its label and the prediction before and after the update."""

from __future__ import annotations

import base64
import html

import numpy as np

from mnist_core.charts.stream import digit_png

_RIGHT, _WRONG = "#2e9e4f", "#d62728"

STEP_CSS = """
<style>
.mnl-step{display:flex;flex-wrap:wrap;gap:6px}
.mnl-step figure{margin:0;border:1px solid rgba(128,128,128,.3);border-radius:6px;padding:3px;width:64px;
  font:12px/1.3 sans-serif;text-align:center}
.mnl-step img{width:56px;height:56px;image-rendering:pixelated;border-radius:3px}
.mnl-step b{font-weight:600}
</style>
"""


def _guess(predicted: int, label: int) -> str:
    colour = _RIGHT if predicted == label else _WRONG
    return f'<b style="color:{colour}">{predicted}</b>'


def step_batch_html(images: np.ndarray, labels: np.ndarray, before: np.ndarray, after: np.ndarray) -> str:
    """Cards "label: before → after", green where right and red where wrong; changed answers are outlined."""
    cards = []
    for image, label, old, new in zip(images, labels, before, after):
        label, old, new = int(label), int(old), int(new)
        src = "data:image/png;base64," + base64.b64encode(digit_png(image)).decode()
        title = html.escape(f"label {label}: predicted {old} before the step, {new} after")
        ring = ' style="border-color:#1f77b4;border-width:2px"' if old != new else ""
        cards.append(
            f'<figure title="{title}"{ring}><img alt="{title}" src="{src}">'
            f"<figcaption>{label}: {_guess(old, label)} → {_guess(new, label)}</figcaption></figure>"
        )
    return STEP_CSS + '<div class="mnl-step">' + "".join(cards) + "</div>"
