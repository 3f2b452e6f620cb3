"""A person's run history in the browser: a finished run appears on the Runs page, stays after a reload (the
browser's cookie), is shared with a nickname and shows on the class board of a second browser."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, running_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]
NICKNAME = "Ada <b>🙂</b>"


@pytest.fixture(scope="module")
def runs_server():
    """A server of its own with an empty run store, so the board holds only what this test shares."""
    folder = tempfile.mkdtemp(prefix="mnist-live-browser-runs-")
    before = os.environ.get("MNIST_LIVE_RUNS")
    os.environ["MNIST_LIVE_RUNS"] = str(Path(folder) / "runs.sqlite")
    try:
        with running_server("runs-server.log") as url:
            yield url
    finally:
        if before is None:
            os.environ.pop("MNIST_LIVE_RUNS")
        else:
            os.environ["MNIST_LIVE_RUNS"] = before


def _open_runs(page) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Runs", exact=True).click()
    expect(page.get_by_role("heading", name="Runs")).to_be_visible(timeout=60_000)


def test_a_finished_run_is_kept_shared_and_seen_from_another_browser(browser, runs_server):
    mine = browser.new_context(viewport={"width": 1400, "height": 2200})
    page = mine.new_page()
    page.goto(f"{runs_server}/?epochs=1")
    page.get_by_role("button", name="Train", exact=True).click(timeout=60_000)
    expect(page.get_by_text(re.compile(r"Finished · epoch 1 of 1"))).to_be_visible(timeout=400_000)

    _open_runs(page)
    run = page.get_by_text(re.compile(r"#1 Adadelta, batch 128 \(9\d\.\d\d%\)")).first
    expect(run).to_be_visible(timeout=60_000)
    expect(page.locator('[data-testid="stVegaLiteChart"]')).to_have_count(2)
    expect(page.get_by_role("button", name="Download the table (CSV)")).to_be_visible()
    expect(page.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    expect(page.get_by_text("Optimizer", exact=True).first).to_be_visible()
    page.wait_for_timeout(1500)  # the table's canvas paints after its frame appears
    page.screenshot(path=SCREENSHOTS / "runs_mine.png", full_page=True)

    page.reload()  # a later visit from the same browser: its cookie brings the runs back
    _open_runs(page)
    expect(page.get_by_text(re.compile(r"#1 Adadelta, batch 128")).first).to_be_visible(timeout=60_000)

    page.get_by_label("Nickname for the class board").fill(NICKNAME)
    page.get_by_role("button", name="Share on the class board").click()
    expect(page.get_by_text("Run 1 is on the class board.")).to_be_visible(timeout=30_000)
    expect(page.get_by_text(f"On the class board as {NICKNAME}.")).to_be_visible()

    theirs = browser.new_context(viewport={"width": 1400, "height": 1000})
    other = theirs.new_page()
    other.goto(f"{runs_server}/runs")
    expect(other.get_by_text("No runs yet.", exact=False)).to_be_visible(timeout=60_000)  # not the first's runs
    other.get_by_role("tab", name="Class board").click()
    board_run = other.get_by_role("combobox", name="Board run")
    expect(board_run).to_have_value(re.compile(re.escape(f"{NICKNAME}: #1 Adadelta, batch 128")), timeout=30_000)
    expect(other.locator('[data-testid="stDataFrame"]').first).to_be_visible()
    other.wait_for_timeout(1500)
    other.screenshot(path=SCREENSHOTS / "runs_board.png", full_page=True)
    assert not page.locator('[data-testid="stException"]').count()
    assert not other.locator('[data-testid="stException"]').count()
    mine.close()
    theirs.close()
