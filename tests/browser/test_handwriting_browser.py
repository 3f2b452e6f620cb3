"""A person with saved digits turns "Your digits in training" on, trains one short run and sees the accuracy chart's
line for the held-out digits. (Drawing, labelling with a key and the gallery: tests/browser/test_draw_browser.py.)

The digits are saved straight into the server's store under the browser's id, which the test sets as the app's
cookie: drawing twenty-five digits through the pad would test the pad again, slowly.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import expect

from mnist_core.data.own_digits import MIN_FOR_TRAINING
from mnist_core.store import RunStore
from mnist_core.store.config import ENV_VAR, sqlite_url
from tests.browser.conftest import SCREENSHOTS, running_server
from ui.browser_id import COOKIE

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]
TOKEN = "handwriting-browser-test-0001"


@pytest.fixture(scope="module")
def store_file():
    return Path(tempfile.mkdtemp(prefix="mnist-live-browser-digits-")) / "runs.sqlite"


@pytest.fixture(scope="module")
def digits_server(store_file):
    """A server of its own whose store holds only this test's digits."""
    before = os.environ.get(ENV_VAR)
    os.environ[ENV_VAR] = str(store_file)
    try:
        with running_server("handwriting-server.log") as url:
            yield url
    finally:
        if before is None:
            os.environ.pop(ENV_VAR)
        else:
            os.environ[ENV_VAR] = before


def _save_digits(store_file: Path, mnist, count: int) -> None:
    store = RunStore(sqlite_url(store_file), retry_seconds=0)
    for image, label in zip(mnist.test.x[:count], mnist.test.y[:count]):
        store.digits.save(f"browser:{TOKEN}", np.ascontiguousarray(image[::-1]), int(label))  # upside down
    store.dispose()


def test_your_digits_in_a_short_run_add_a_line_to_the_accuracy_chart(browser, digits_server, store_file, mnist):
    context = browser.new_context(viewport={"width": 1400, "height": 1100})
    context.add_cookies([{"name": COOKIE, "value": TOKEN, "url": digits_server}])
    page = context.new_page()
    page.goto(f"{digits_server}/?epochs=1")
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    sidebar = page.locator('[data-testid="stSidebar"]')
    switch = sidebar.get_by_text("Your digits in training", exact=True)
    switch.scroll_into_view_if_needed()
    switch.click()
    expect(sidebar.get_by_text(re.compile(rf"Save at least {MIN_FOR_TRAINING} digits"))).to_be_visible(timeout=30_000)

    _save_digits(store_file, mnist, MIN_FOR_TRAINING + 5)
    page.reload()  # the link keeps the switch on (mine=1); the cookie keeps the digits this browser's
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    expect(sidebar.get_by_text(re.compile(r"Each epoch, the saved digits"))).to_be_visible(timeout=30_000)
    expect(sidebar.get_by_text(re.compile(r"Save at least"))).to_have_count(0)
    sidebar.get_by_text("Train with the class set", exact=True).scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "handwriting_sidebar.png")

    page.get_by_role("button", name="Train", exact=True).click()
    expect(page.get_by_text(re.compile(r"Finished · epoch 1 of 1"))).to_be_visible(timeout=600_000)
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    expect(charts).to_have_count(2, timeout=30_000)
    accuracy = charts.nth(1)
    accuracy.scroll_into_view_if_needed()
    expect(accuracy.get_by_text(re.compile(r"handwriting, held out")).first).to_be_attached(timeout=30_000)
    page.wait_for_timeout(1000)  # the chart's marks settle after its frame appears
    page.screenshot(path=SCREENSHOTS / "handwriting_train_chart.png", full_page=True)
    assert not page.locator('[data-testid="stException"]').count()
    context.close()
