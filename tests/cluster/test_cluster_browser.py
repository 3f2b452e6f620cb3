"""A person on the Train page of a real `streamlit run` server that trains on the test cluster."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from mnist_core.settings import TrainSettings
from tests.browser.conftest import SCREENSHOTS, browser, running_server  # noqa: F401 - the browser fixture
from tests.cluster.conftest import alive_hosts
from tests.conftest import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def test_a_run_on_the_cluster_trains_on_the_page_and_the_server_stop_leaves_no_actor(browser, on_cluster):  # noqa: F811
    with running_server("cluster_server.log") as url:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(url)
        page.get_by_role("button", name="Train", exact=True).click()
        where = page.get_by_text(re.compile(rf"Trains on the Ray cluster at {re.escape(on_cluster.address)}"))
        expect(where).to_be_visible(timeout=60_000)
        expect(page.get_by_text(re.compile(rf"Training · epoch \d of {TrainSettings().epochs}"))).to_be_visible(
            timeout=240_000
        )
        expect(page.get_by_text(re.compile(r": machine .* worker process \d+, 2 CPUs\.$"))).to_be_visible()
        page.locator(".mnl-card").first.wait_for(timeout=60_000)  # the test-digit stream, from the worker
        page.screenshot(path=SCREENSHOTS / "train_cluster.png", full_page=True)
        assert len(alive_hosts(on_cluster)) == 1
        context.close()
    wait_until(lambda: not alive_hosts(on_cluster), timeout=90)  # the server stopped: its actor went with it
