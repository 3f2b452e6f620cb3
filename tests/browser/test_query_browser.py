"""A person following shared links: the sidebar takes the link's settings, and a bad link is explained."""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import SCREENSHOTS
from tests.conftest import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def _url(page) -> str:
    # Not page.url: Playwright (here) does not see Streamlit's history.pushState until the next navigation.
    return page.evaluate("location.href")


def _query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(_url(page)).query, keep_blank_values=True)


def _sidebar_shows(page, optimizer: str, learning_rate: str, epochs: str) -> None:
    """Waits for all three: the optimizer's own fields are drawn after it, and may be empty for a moment."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    expected = (optimizer, learning_rate, epochs)
    labels = ("Optimizer", "Learning rate", "Epochs")

    def shown() -> tuple[str, ...]:
        return tuple(sidebar.locator(f'input[aria-label="{label}"]').input_value() for label in labels)

    try:
        wait_until(lambda: shown() == expected, timeout=60)
    except AssertionError:
        assert shown() == expected  # names what the sidebar shows instead


@pytest.fixture
def context(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    yield context
    context.close()


def test_a_link_sets_up_the_sidebar_and_the_url_follows_it(context, server_url):
    page = context.new_page()
    page.goto(f"{server_url}/?opt=sgd&lr=0.05&epochs=3")
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    _sidebar_shows(page, "SGD", "0.05", "3")
    assert not page.locator('[data-testid="stToast"]').count()
    assert _query(page) == {"opt": ["sgd"], "lr": ["0.05"], "epochs": ["3"]}

    page.locator('[data-testid="stSidebarNav"]').get_by_text("Draw", exact=True).click()
    page.get_by_text("Draw a digit on the canvas").wait_for(timeout=60_000)
    _sidebar_shows(page, "SGD", "0.05", "3")
    wait_until(lambda: _query(page) == {"opt": ["sgd"], "lr": ["0.05"], "epochs": ["3"]})  # survives the switch

    epochs = page.locator('[data-testid="stSidebar"] input[aria-label="Epochs"]')
    epochs.fill("4")
    epochs.press("Enter")
    wait_until(lambda: _query(page).get("epochs") == ["4"])
    field = page.locator('[data-testid="stSidebar"] input[aria-label="Learning rate"]')
    field.fill("0.01")  # SGD's default: it leaves the URL
    field.press("Enter")
    wait_until(lambda: _query(page) == {"opt": ["sgd"], "epochs": ["4"]})
    assert urlsplit(_url(page)).path == "/draw"
    assert not page.locator('[data-testid="stException"]').count()


def test_a_bad_link_says_which_value_it_ignored_and_the_page_works(context, server_url):
    page = context.new_page()
    page.goto(f"{server_url}/draw?seed=banana&epochs=2")
    page.get_by_text("Draw a digit on the canvas").wait_for(timeout=60_000)
    toast = page.locator('[data-testid="stToast"]')
    toast.get_by_text("Ignored seed=banana from the link: Seed: 'banana' is not a number. Using 0.").wait_for(
        timeout=30_000
    )
    page.screenshot(path=SCREENSHOTS / "query_bad_link.png", full_page=True)
    sidebar = page.locator('[data-testid="stSidebar"]')
    assert sidebar.locator('input[aria-label="Seed"]').input_value() == "0"
    assert sidebar.locator('input[aria-label="Epochs"]').input_value() == "2"  # the good value was taken
    wait_until(lambda: _query(page) == {"epochs": ["2"]})

    page.get_by_role("button", name="Random test digit").or_(page.get_by_text("Random test digit")).first.click()
    page.locator('[data-testid="stHtml"]').filter(has_text="confident").first.wait_for(timeout=60_000)
    assert toast.count() == 1  # still there after the rerun, and not shown twice
    assert not page.locator('[data-testid="stException"]').count()
