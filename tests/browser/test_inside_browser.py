"""A person on the Inside the network page: every tab, and a click on a confusion-matrix cell."""

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def _open_tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()
    page.wait_for_timeout(500)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=120_000)


def test_every_tab_renders_and_a_confusion_cell_shows_its_digits(browser, server_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{server_url}/inside")
    page.get_by_role("tab", name="Architecture", exact=True).wait_for(timeout=60_000)
    page.get_by_text("Total: 5,994 parameters.").first.wait_for(timeout=60_000)
    expect(page.get_by_text("bundled pretrained network")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "inside_architecture.png", full_page=True)

    _open_tab(page, "Filters")
    page.get_by_text("16 filters of 5x5 over 8 input channel(s)").wait_for(timeout=60_000)
    page.screenshot(path=SCREENSHOTS / "inside_filters.png", full_page=True)

    _open_tab(page, "Activations")
    page.get_by_text("saliency over the digit").wait_for(timeout=60_000)
    page.get_by_text("(dense, 10").wait_for(timeout=60_000)  # the last layer
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)
    page.screenshot(path=SCREENSHOTS / "inside_activations.png", full_page=True)

    _open_tab(page, "Errors")
    cells = page.locator('[data-testid="stVegaLiteChart"] g.mark-rect path[aria-label]')
    cells.first.wait_for(timeout=120_000)
    labels = [cells.nth(i).get_attribute("aria-label") for i in range(cells.count())]
    # The off-diagonal cell with the most mistakes: its digits must appear when it is clicked.
    pattern = re.compile(r"predicted digit: (\d); true digit: (\d); mistakes: (\d+)")
    found = [(pattern.search(label or ""), i) for i, label in enumerate(labels)]
    counted = [(int(m[3]), int(m[2]), int(m[1]), i) for m, i in found if m and m[1] != m[2]]
    count, true, predicted, index = max(counted)
    assert count > 0
    page.screenshot(path=SCREENSHOTS / "inside_errors.png", full_page=True)
    box = cells.nth(index).bounding_box()
    page.mouse.click(box["x"] + 6, box["y"] + 6)  # a corner of the cell: its count sits on top of the centre
    heading = page.get_by_text(f"{count} {true}s read as {predicted}")
    heading.wait_for(timeout=60_000)
    captions = page.locator('[data-testid="stImageCaption"]').filter(has_text=f": {true}→{predicted} ")
    page.wait_for_timeout(1000)
    assert captions.count() >= count  # the cell's digits (some may also be among the confident mistakes)
    heading.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "inside_errors_cell.png", full_page=True)

    _open_tab(page, "Crop averaging")
    page.get_by_text("Centre crop alone:").wait_for(timeout=120_000)
    page.wait_for_timeout(1000)
    page.screenshot(path=SCREENSHOTS / "inside_crops.png", full_page=True)
    assert not page.locator('[data-testid="stException"]').count()
    page.close()
