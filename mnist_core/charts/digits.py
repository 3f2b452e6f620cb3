"""HTML for a gallery of saved digits: each with its label, and how a network read it (red when it misread it)."""

from __future__ import annotations

import base64
import html

import numpy as np

from mnist_core.charts.stream import digit_png

_RIGHT, _WRONG = "#2e9e4f", "#d62728"
GALLERY_CSS = """
<style>
.mnl-gallery{display:flex;flex-wrap:wrap;gap:6px}
.mnl-digit{display:flex;flex-direction:column;align-items:center;border:2px solid rgba(128,128,128,.3);
  border-radius:6px;padding:3px;width:64px;font:12px/1.3 sans-serif}
.mnl-digit img{width:56px;height:56px;image-rendering:pixelated;border-radius:3px}
.mnl-digit.wrong{border-color:#d62728}
</style>
"""


def gallery_order(labels: np.ndarray, predicted: np.ndarray | None) -> np.ndarray:
    """Indices with the misread digits first, each group in its given order (newest first as listed)."""
    if predicted is None:
        return np.arange(len(labels))
    wrong = np.asarray(predicted) != np.asarray(labels)
    return np.concatenate([np.flatnonzero(wrong), np.flatnonzero(~wrong)])


def gallery_html(ids: np.ndarray, images: np.ndarray, labels: np.ndarray, predicted: np.ndarray | None = None) -> str:
    """One card per digit, in the given order: the image, `#id`, its label and (given `predicted`) the reading."""
    cards = []
    for index, image in enumerate(images):
        digit_id, label = int(ids[index]), int(labels[index])
        src = "data:image/png;base64," + base64.b64encode(digit_png(image)).decode()
        read = ""
        wrong = False
        if predicted is not None:
            guess = int(predicted[index])
            wrong = guess != label
            colour = _WRONG if wrong else _RIGHT
            read = f'<span style="color:{colour}">read {guess}</span>'
        title = html.escape(f"digit #{digit_id}: a {label}" + (f", read as {int(predicted[index])}" if read else ""))
        cards.append(
            f'<div class="mnl-digit{" wrong" if wrong else ""}" title="{title}"><img alt="{title}" src="{src}">'
            f"<b>{label}</b>{read}<small>#{digit_id}</small></div>"
        )
    return GALLERY_CSS + '<div class="mnl-gallery">' + "".join(cards) + "</div>"
