"""A person on the Train page: press Train, watch tiles and charts move, pause, resume, stop."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS
from tests.conftest import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def _metric(page, label: str) -> str:
    tile = page.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return tile.locator('[data-testid="stMetricValue"]').inner_text()


def _examples(page) -> int:
    return int(_metric(page, "Examples seen").replace(",", ""))


def test_train_pause_resume_and_watch_it_learn(page, server_url):
    page.screenshot(path=SCREENSHOTS / "train_before.png", full_page=True)
    # A long run (from a link, as a person would share one), so that it is still training when Stop is pressed.
    page.goto(f"{server_url}/?epochs=40")
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    page.get_by_role("button", name="Train", exact=True).click()
    wait_until(lambda: page.locator('[data-testid="stMetric"]').count() >= 10 and _examples(page) > 0)
    first = _examples(page)
    wait_until(lambda: _examples(page) > first + 5000)  # tiles redraw while it trains

    charts = page.locator('[data-testid="stVegaLiteChart"]')
    assert charts.count() == 2
    wait_until(lambda: page.locator(".mnl-card").count() > 5)  # the test-digit stream
    expect(page.get_by_text(re.compile(r"Training · epoch \d of 40"))).to_be_visible()

    page.get_by_role("button", name="Pause", exact=True).click()
    page.get_by_role("button", name="Resume", exact=True).wait_for(timeout=30_000)
    time.sleep(1.5)  # let the batch in flight and the next redraw land
    paused_at = _examples(page)
    time.sleep(2.5)
    assert _examples(page) == paused_at
    expect(page.get_by_text(re.compile(r"Paused · epoch"))).to_be_visible()

    page.get_by_role("button", name="Resume", exact=True).click()
    wait_until(lambda: _examples(page) > paused_at + 2000)

    # Another page meanwhile: training goes on, and the Draw page answers with this network.
    before_leaving = _examples(page)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Draw", exact=True).click()
    page.get_by_role("button", name="Random test digit").or_(page.get_by_text("Random test digit")).first.click()
    page.get_by_text("Your network (training now").wait_for(timeout=60_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Train", exact=True).click()
    wait_until(lambda: page.locator('[data-testid="stMetric"]').count() >= 10)
    # Training went on meanwhile; at an epoch's end the counter rests while the epoch is evaluated.
    wait_until(lambda: _examples(page) > before_leaving, timeout=60)

    # After the first epoch the validation and k-crop test accuracies appear.
    wait_until(lambda: _metric(page, "Test accuracy (4 crops)") != "–", timeout=240)
    assert float(_metric(page, "Test accuracy (4 crops)").rstrip("%")) > 90
    time.sleep(2)
    page.screenshot(path=SCREENSHOTS / "train_mid_training.png", full_page=True)

    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_text(re.compile(r"Stopped · epoch"))).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    assert not page.locator('[data-testid="stException"]').count()
    page.screenshot(path=SCREENSHOTS / "train_stopped.png", full_page=True)


def test_a_bad_setting_is_explained_not_a_traceback(page):
    field = page.locator('input[aria-label="Learning rate"]')
    field.fill("ten")
    field.press("Enter")
    page.get_by_text("Learning rate: 'ten' is not a number.").wait_for(timeout=30_000)
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_disabled()
    assert not page.locator('[data-testid="stException"]').count()
    page.screenshot(path=SCREENSHOTS / "train_bad_setting.png", full_page=True)


def test_the_charts_mid_training_and_at_the_end(browser, server_url):
    """Screenshots of the loss and accuracy charts after the first epoch and when a 3-epoch run has finished."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{server_url}/?epochs=3")
    page.get_by_role("button", name="Train", exact=True).click()
    wait_until(lambda: page.locator('[data-testid="stMetric"]').count() >= 10)
    wait_until(lambda: _metric(page, "Test accuracy (4 crops)") != "–", timeout=300)
    chart = '[data-testid="stVegaLiteChart"]'
    charts = page.locator('[data-testid="stHorizontalBlock"]').filter(has=page.locator(chart))
    expect(charts.locator(chart)).to_have_count(2)
    expect(charts.locator("svg text").filter(has_text="99% goal")).to_have_count(1)  # the goal line's label
    time.sleep(2)  # the redraw after the epoch's evaluation
    charts.first.screenshot(path=SCREENSHOTS / "train_charts_mid.png")
    expect(page.get_by_text(re.compile(r"Finished · epoch 3 of 3"))).to_be_visible(timeout=600_000)
    expect(charts.locator(chart)).to_have_count(2)
    time.sleep(1)
    charts.first.screenshot(path=SCREENSHOTS / "train_charts_end.png")
    assert not page.locator('[data-testid="stException"]').count()
    context.close()
