"""A person on the Compare page: start a short race and watch the lines appear."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def test_a_short_race_draws_lines_and_ends_with_results(browser, server_url):
    page = browser.new_page(viewport={"width": 1400, "height": 2600})
    page.goto(f"{server_url}/compare")
    page.get_by_role("button", name="Start race").wait_for(timeout=60_000)
    for label, value in (("Budget: examples each", "10000"), ("Evaluate every (examples)", "2500")):
        field = page.locator(f'input[aria-label="{label}"]')
        field.fill(value)
        field.press("Enter")
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Start race").click()
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    charts.first.wait_for(timeout=60_000)
    # Lines (SVG paths with at least one segment) for every contestant while the race runs.
    page.wait_for_function(
        """() => [...document.querySelectorAll('[data-testid=stVegaLiteChart] g.mark-line path')]
                 .filter(p => (p.getAttribute('d') || '').includes('L')).length >= 7""",
        timeout=180_000,
    )
    assert charts.count() == 3
    page.screenshot(path=SCREENSHOTS / "compare_running.png", full_page=True)
    page.get_by_text("Results", exact=True).wait_for(timeout=300_000)
    page.wait_for_timeout(1500)
    expect(page.get_by_text("Best final test accuracy")).to_be_visible()
    assert not page.locator('[data-testid="stException"]').count()
    page.screenshot(path=SCREENSHOTS / "compare_results.png", full_page=True)
    results = page.locator('[data-testid="stDataFrame"] .dvn-scroller').last
    content, shown = results.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert content <= shown, f"the results table scrolls sideways: {content} px of content in {shown} px"
    page.close()


def test_the_contestant_table_fits_a_laptop_screen_without_scrolling(browser, server_url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{server_url}/compare")
    grid = page.locator('[data-testid="stDataFrame"] .dvn-scroller').first
    grid.wait_for(timeout=60_000)
    page.wait_for_timeout(500)  # the columns' widths settle after the first frame
    page.locator('[data-testid="stDataFrame"]').first.screenshot(path=SCREENSHOTS / "compare_table.png")
    widths = grid.evaluate("e => [e.scrollWidth, e.clientWidth]")
    assert widths[0] <= widths[1], f"the table scrolls sideways: {widths[0]} px of content in {widths[1]} px"
    page.close()
