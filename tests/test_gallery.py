"""The My digits gallery: one sprite holds every digit, and each card shows its own tile and label."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image

from mnist_core.charts.digits import COLUMNS, SHOWN, TILE, gallery_html, gallery_order, sprite_png


def _digits(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, TILE, TILE), dtype=np.uint8)


def test_each_digit_is_its_own_tile_of_the_sprite():
    images = _digits(COLUMNS + 3)  # a second row, part filled
    sheet = np.asarray(Image.open(io.BytesIO(sprite_png(images))))
    assert sheet.shape == (2 * TILE, COLUMNS * TILE)
    for index, image in enumerate(images):
        row, column = divmod(index, COLUMNS)
        np.testing.assert_array_equal(sheet[row * TILE : (row + 1) * TILE, column * TILE : (column + 1) * TILE], image)
    assert not sheet[TILE:, 3 * TILE :].any()  # the rest of the last row is black


def test_each_card_points_at_its_tile_and_names_its_label_and_reading():
    images = _digits(COLUMNS + 2)
    labels = np.arange(len(images)) % 10
    predicted = labels.copy()
    predicted[COLUMNS + 1] = (labels[COLUMNS + 1] + 1) % 10
    page = gallery_html(np.arange(len(images)) + 500, images, labels, predicted)
    card = r'<i class="mnl-digit( wrong)?"[^>]*data-label="([^"]*)" style="background-position:([^"]*)"'
    cards = re.findall(card, page)
    assert len(cards) == len(images)
    assert cards[0] == ("", "0", "-0px -0px")
    assert cards[COLUMNS] == ("", str(labels[COLUMNS]), f"-0px -{SHOWN}px")
    wrong, label, position = cards[COLUMNS + 1]
    assert wrong and label == f"{labels[COLUMNS + 1]}, read {predicted[COLUMNS + 1]}"
    assert position == f"-{SHOWN}px -{SHOWN}px"
    assert f'title="digit #{500 + COLUMNS + 1}: a {labels[COLUMNS + 1]}, read as {predicted[COLUMNS + 1]}"' in page
    sprite = re.search(r"url\(data:image/png;base64,([^)]*)\)", page).group(1)
    assert base64.b64decode(sprite) == sprite_png(images)
    assert f"background-size:{COLUMNS * SHOWN}px auto" in page


def test_without_a_reading_a_card_shows_only_the_label():
    page = gallery_html(np.array([7]), _digits(1), np.array([3]))
    assert 'data-label="3"' in page and "read" not in page and " wrong" not in page


def test_the_misread_come_first_in_their_listed_order():
    labels = np.array([1, 2, 3, 4, 5])
    predicted = np.array([1, 0, 3, 0, 5])
    assert gallery_order(labels, predicted).tolist() == [1, 3, 0, 2, 4]
    assert gallery_order(labels, None).tolist() == [0, 1, 2, 3, 4]
