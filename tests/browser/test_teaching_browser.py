"""A class on its lesson link, a Step on the Train page and the Gradients tab, in headless Chromium."""

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

TASK = "Find the largest learning rate that still trains. <b>Not bold</b> **nor this**"


def test_a_class_link_in_a_fresh_browser_shows_only_the_allowed_control(browser, server_url):
    from urllib.parse import urlencode

    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # a fresh browser: no session yet
    page = context.new_page()
    page.goto(f"{server_url}/?{urlencode({'opt': 'sgd', 'lr': '0.5', 'hide': 'all', 'allow': 'lr', 'task': TASK})}")
    sidebar = page.locator('[data-testid="stSidebar"]')
    expect(sidebar.locator('input[aria-label="Learning rate"]')).to_have_value("0.5", timeout=60_000)
    expect(sidebar.get_by_text("Fixed by the link:")).to_be_visible()
    expect(sidebar.get_by_text("Optimizer: SGD (hidden)")).to_be_visible()
    # The only input of the sidebar's settings: the learning rate (the snapshot panel's uploader aside).
    inputs = sidebar.locator('[data-testid="stTextInput"], [data-testid="stNumberInput"], [data-testid="stSelectbox"]')
    expect(inputs).to_have_count(1)
    task = page.locator('[data-testid="stText"]').filter(has_text="Find the largest learning rate")
    expect(task).to_have_text(TASK)  # literally: the tags and asterisks are shown, not rendered
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    expect(page.get_by_role("button", name="Step", exact=True)).to_be_enabled()
    page.screenshot(path=SCREENSHOTS / "lesson_link.png", full_page=True)
    context.close()


def test_the_teachers_page_makes_a_link(page, server_url):
    page.goto(f"{server_url}/teachers")
    expect(page.get_by_text("Students can change")).to_be_visible(timeout=60_000)
    # The first code block is the lesson link; the class set's link comes after it.
    lesson_link = page.locator('[data-testid="stCode"]').first
    expect(lesson_link).to_contain_text("lock=all&allow=lr", timeout=60_000)
    page.get_by_text("hidden", exact=True).click()
    expect(lesson_link).to_contain_text(f"{server_url}/?hide=all&allow=lr", timeout=60_000)
    page.screenshot(path=SCREENSHOTS / "teachers_page.png", full_page=True)


def test_step_then_the_gradients_of_its_batch(page):
    page.get_by_role("button", name="Step", exact=True).click()
    expect(page.get_by_text("Step 1: one batch of 128 examples")).to_be_visible(timeout=120_000)
    expect(page.get_by_text("How far each layer's weights moved")).to_be_visible()
    expect(page.get_by_text("The step is training its batch")).to_have_count(0)  # gone once the report is in
    expect(page.get_by_text("still training")).to_have_count(0)
    page.get_by_text("The batch's first 32 images").scroll_into_view_if_needed()
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    page.wait_for_timeout(1500)  # the table paints on a canvas after it is attached
    page.screenshot(path=SCREENSHOTS / "train_step.png", full_page=True)
    page.get_by_role("button", name="Step", exact=True).click()
    expect(page.get_by_text("Step 2: one batch of 128 examples")).to_be_visible(timeout=60_000)
    page.get_by_role("link", name="Inside the network").click()
    page.get_by_role("tab", name="Gradients", exact=True).click()
    expect(page.get_by_text("How to read them.")).to_be_visible(timeout=60_000)
    page.get_by_text("of Step 2 (its first 32 images)").click()
    expect(page.get_by_text("of Step 2's batch")).to_be_visible(timeout=60_000)
    expect(page.get_by_text("(its scores, before the softmax)")).to_be_visible(timeout=60_000)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=60_000)
    page.screenshot(path=SCREENSHOTS / "inside_gradients.png", full_page=True)
    page.get_by_text("(its scores, before the softmax)").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=SCREENSHOTS / "inside_gradients_dense.png", full_page=True)
