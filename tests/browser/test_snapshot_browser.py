"""A person saves a snapshot after training, comes back in a new session, loads it and draws with it."""

import re
import time

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]


def _open_panel(page):
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.locator('[data-testid="stExpander"] summary').filter(has_text="Snapshots").click()
    sidebar.get_by_text("Load a snapshot").wait_for(timeout=30_000)
    return sidebar


def _shot(page, name: str) -> None:
    """The viewport with the sidebar scrolled to the panel (a full-page shot leaves the sidebar's end out)."""
    page.locator('[data-testid="stSidebar"] [data-testid="stExpander"]').last.scroll_into_view_if_needed()
    time.sleep(0.5)
    page.screenshot(path=SCREENSHOTS / f"snapshot_{name}.png")


def test_save_reload_upload_and_draw_with_a_snapshot(page, server_url, tmp_path):
    from mnist_core.snapshots import load_snapshot

    epochs = page.locator('input[aria-label="Epochs"]')
    epochs.fill("1")
    epochs.press("Enter")
    page.wait_for_function("() => new URL(location.href).searchParams.get('epochs') === '1'", timeout=30_000)
    page.get_by_role("button", name="Train", exact=True).click()
    try:
        page.get_by_text(re.compile(r"Finished · epoch 1 of 1")).wait_for(timeout=400_000)
    finally:
        page.screenshot(path=SCREENSHOTS / "snapshot_trained.png", full_page=True)

    sidebar = _open_panel(page)
    save = sidebar.get_by_role("button", name="Save snapshot")
    expect(save).to_be_enabled()
    _shot(page, "trained")
    with page.expect_download(timeout=60_000) as info:
        save.click()
    download = info.value
    assert download.suggested_filename.endswith(".mnistlive.zip")
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    saved = load_snapshot(path.read_bytes())
    assert saved.examples_seen == 55_000 and [r.epoch for r in saved.epochs] == [1]
    assert saved.epochs[0].test_accuracy_crops > 0.9

    page.reload()  # a new session: no job, the bundled network answers
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    sidebar = _open_panel(page)
    expect(sidebar.get_by_role("button", name="Save snapshot")).to_be_disabled()

    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"PK\x03\x04 not really a zip")
    sidebar.locator('input[type="file"]').set_input_files(junk)
    sidebar.get_by_text("junk.zip could not be loaded").wait_for(timeout=60_000)
    assert not page.locator('[data-testid="stException"]').count()
    _shot(page, "bad_upload")

    sidebar.locator('input[type="file"]').set_input_files(path)
    sidebar.get_by_text("ConvNetJS demo net (5,994 weights); SGD").or_(
        sidebar.get_by_text("ConvNetJS demo net (5,994 weights); Adadelta")
    ).first.wait_for(timeout=60_000)
    _shot(page, "loaded")
    sidebar.get_by_role("button", name="Use for drawing").click()
    sidebar.get_by_text("The Draw and Inside pages use this snapshot.").wait_for(timeout=30_000)
    _shot(page, "in_use")

    page.locator('[data-testid="stSidebarNav"]').get_by_text("Draw", exact=True).click()
    page.get_by_role("button", name="Random test digit").or_(page.get_by_text("Random test digit")).first.click()
    page.get_by_text("Loaded snapshot:").wait_for(timeout=60_000)
    answer = page.locator('[data-testid="stMarkdown"]').filter(has_text="Answered by").first.inner_text()
    assert "Loaded snapshot: ConvNetJS demo net" in answer and "55,000 examples seen" in answer
    time.sleep(1)  # let the chart draw
    assert not page.locator('[data-testid="stException"]').count()
    page.screenshot(path=SCREENSHOTS / "snapshot_draw.png", full_page=True)

    # Train it further: the Train page takes over, and the run goes on from the snapshot's epoch and charts.
    sidebar.get_by_role("button", name="Continue training").click()
    page.get_by_text(re.compile(r"Finished · epoch 2 of 2 · 110,000 of 110,000 examples")).wait_for(timeout=400_000)
    time.sleep(1.5)  # the static redraw after the end
    assert not page.locator('[data-testid="stException"]').count()
    expect(page.get_by_role("button", name="Train", exact=True)).to_be_enabled()
    page.screenshot(path=SCREENSHOTS / "snapshot_continued.png", full_page=True)
