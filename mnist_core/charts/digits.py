"""HTML for a gallery of saved digits: each with its label, and how a network read it (red when it misread it).

All the digits of a gallery are tiles of one PNG (a sprite) that each card shows a window of: one image to encode,
send and decode instead of one per digit.
"""

from __future__ import annotations

import base64
import html

import numpy as np

from mnist_core.charts.stream import digit_png

WRONG = "#d62728"  # a misread digit's outline and reading
TILE = 28  # a digit's side in the sprite (MNIST's)
SHOWN = 56  # a digit's side on the page
COLUMNS = 40  # tiles per row of the sprite
GALLERY_CSS = """
<style>
.mnl-gallery{display:flex;flex-wrap:wrap;gap:6px}
.mnl-digit{position:relative;display:block;box-sizing:content-box;width:%(shown)dpx;height:%(shown)dpx;
  padding:3px 3px 18px;border:2px solid rgba(128,128,128,.3);border-radius:6px;image-rendering:pixelated;
  background:url(%(sprite)s) no-repeat content-box #000;background-size:%(width)dpx auto;background-clip:content-box}
.mnl-digit::after{content:attr(data-label);position:absolute;left:0;right:0;bottom:1px;text-align:center;
  font:bold 12px/16px sans-serif}
.mnl-digit.wrong{border-color:%(wrong)s}
.mnl-digit.wrong::after{color:%(wrong)s;font-weight:normal}
</style>
"""


def gallery_order(labels: np.ndarray, predicted: np.ndarray | None) -> np.ndarray:
    """Indices with the misread digits first, each group in its given order (newest first as listed)."""
    if predicted is None:
        return np.arange(len(labels))
    wrong = np.asarray(predicted) != np.asarray(labels)
    return np.concatenate([np.flatnonzero(wrong), np.flatnonzero(~wrong)])


def sprite_png(images: np.ndarray, columns: int = COLUMNS) -> bytes:
    """The 28x28 uint8 digits as tiles of one PNG, `columns` to a row, in order (white ink on black, as MNIST)."""
    images = np.asarray(images, dtype=np.uint8).reshape(-1, TILE, TILE)
    rows = max(1, -(-len(images) // columns))
    grid = np.zeros((rows * columns, TILE, TILE), np.uint8)
    grid[: len(images)] = images
    return digit_png(grid.reshape(rows, columns, TILE, TILE).transpose(0, 2, 1, 3).reshape(rows * TILE, -1))


def gallery_html(ids: np.ndarray, images: np.ndarray, labels: np.ndarray, predicted: np.ndarray | None = None) -> str:
    """One card per digit, in the given order: the image and under it its label and (given `predicted`) a misreading
    in red; `#id` and the reading are its title. A card is one element, so a thousand draw quickly."""
    cards = []
    for index in range(len(images)):
        digit_id, label = int(ids[index]), int(labels[index])
        title, shown, wrong = f"digit #{digit_id}: a {label}", str(label), False
        if predicted is not None:
            guess = int(predicted[index])
            title += f", read as {guess}"
            if guess != label:
                shown, wrong = f"{label}, read {guess}", True
        row, column = divmod(index, COLUMNS)
        cards.append(
            f'<i class="mnl-digit{" wrong" if wrong else ""}" role="img" title="{html.escape(title)}" '
            f'data-label="{shown}" style="background-position:-{column * SHOWN}px -{row * SHOWN}px"></i>'
        )
    sprite = "data:image/png;base64," + base64.b64encode(sprite_png(images)).decode()
    css = GALLERY_CSS % {"shown": SHOWN, "sprite": sprite, "width": COLUMNS * SHOWN, "wrong": WRONG}
    return css + '<div class="mnl-gallery">' + "".join(cards) + "</div>"
