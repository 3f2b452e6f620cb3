"""A person on the Draw page: draw digits with the mouse, clear, upload files, follow a deep link."""

import io
import math
import re
import time

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import expect

from tests.browser.conftest import SCREENSHOTS, running_server

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def _answer(page, previous: str | None = None, timeout: float = 60) -> str:
    """The predicted digit shown large on the page (waits for a new one when `previous` is given)."""
    big = page.locator('[data-testid="stHtml"]').filter(has_text="confident")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if big.count():
            text = big.first.inner_text().strip()
            if text and text != previous:
                return text.split()[0]
        time.sleep(0.25)
    raise AssertionError("no prediction appeared")


def _stroke(page, points) -> None:
    box = page.locator("canvas").first.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=2)
    page.mouse.up()


def _clear(page) -> None:
    page.get_by_role("button", name="Clear", exact=True).click()
    page.get_by_text("Draw a digit on the canvas").wait_for(timeout=30_000)


ONE = [(140, 45), (140, 235)]
ZERO = [(140 + 55 * math.sin(t / 24 * 2 * math.pi), 140 - 85 * math.cos(t / 24 * 2 * math.pi)) for t in range(25)]
SEVEN_TOP = [(70, 55), (210, 55)]
SEVEN_LEG = [(210, 55), (120, 235)]


def test_draw_one_zero_seven_and_clear(page, server_url):
    page.goto(f"{server_url}/draw")
    page.get_by_text("Draw a digit on the canvas").wait_for(timeout=60_000)
    page.screenshot(path=SCREENSHOTS / "draw_blank.png", full_page=True)
    seen = []
    for name, strokes in (("1", [ONE]), ("0", [ZERO]), ("7", [SEVEN_TOP, SEVEN_LEG])):
        for points in strokes:
            _stroke(page, points)
        answer = _answer(page)
        time.sleep(1.5)  # the answer to the last stroke may still be on its way
        answer = _answer(page)
        page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=30_000)
        page.screenshot(path=SCREENSHOTS / f"draw_{name}.png", full_page=True)
        seen.append((name, answer))
        _clear(page)
    assert [answer for _, answer in seen] == ["1", "0", "7"], seen
    assert page.get_by_text("bundled pretrained network").count() == 0  # cleared: prompt only
    assert not page.locator('[data-testid="stException"]').count()


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_upload_a_paper_digit_and_a_bad_file(page, server_url, mnist, tmp_path):
    page.goto(f"{server_url}/draw")
    page.locator("button").filter(has_text="Upload an image").click()
    index = int(np.flatnonzero(mnist.test.y == 3)[1])  # a plainly written 3 (the first one is a scrawl)
    paper = 255 - np.asarray(Image.fromarray(mnist.test.x[index]).resize((200, 200)))  # dark ink on white
    good = tmp_path / "three.png"
    good.write_bytes(_png(paper))
    page.locator('[data-testid="stMain"] input[type="file"]').set_input_files(str(good))
    assert _answer(page) == "3"
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=30_000)
    page.screenshot(path=SCREENSHOTS / "draw_upload.png", full_page=True)

    bad = tmp_path / "notes.png"
    bad.write_text("shopping list: eggs, milk")
    page.locator('[data-testid="stMain"] input[type="file"]').set_input_files(str(bad))
    page.get_by_text("could not be used").wait_for(timeout=30_000)
    assert not page.locator('[data-testid="stException"]').count()
    page.screenshot(path=SCREENSHOTS / "draw_bad_upload.png", full_page=True)


def test_a_deep_link_on_a_fresh_server_gets_the_full_app(browser):
    with running_server("deep_link_server.log") as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/draw")
        page.get_by_text("Training settings").wait_for(timeout=60_000)
        expect(page.get_by_role("heading", name="Draw a digit")).to_be_visible()
        expect(page.locator('[data-testid="stSidebarNav"]').get_by_text("Train", exact=True)).to_be_visible()
        page.close()


def test_drawing_with_a_finger_on_a_touch_screen(browser, server_url):
    context = browser.new_context(viewport={"width": 420, "height": 900}, has_touch=True, is_mobile=True)
    page = context.new_page()
    _touch_a_one(context, page, server_url)
    assert _answer(page) == "1"
    page.screenshot(path=SCREENSHOTS / "draw_touch_phone.png", full_page=True)
    context.close()


def test_on_a_phone_a_touched_digit_is_answered_in_view_labelled_by_a_key_and_kept_in_the_gallery(browser, server_url):
    context = browser.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    _touch_a_one(context, page, server_url)
    answer = page.locator('[data-testid="stHtml"]').filter(has_text="confident").first
    expect(answer).to_be_in_viewport(timeout=60_000)  # no scrolling between the stroke and the answer
    right = page.get_by_role("button", name="Right")
    expect(right).to_be_in_viewport()
    expect(page.get_by_role("button", name="9", exact=True)).to_be_in_viewport()
    assert _answer(page) == "1"
    page.screenshot(path=SCREENSHOTS / "draw_phone_answer.png")  # the viewport, as the phone shows it
    page.keyboard.press("7")  # "it is a 7": the digit key labels the drawing
    expect(page.get_by_text("Saved as a 7.")).to_be_in_viewport(timeout=30_000)
    expect(page.get_by_text("kept on this server")).to_be_in_viewport()  # the toast, said once
    page.screenshot(path=SCREENSHOTS / "draw_phone_saved.png")
    page.goto(f"{server_url}/digits")
    gallery = page.locator('[data-testid="stHtml"]').filter(has=page.locator(".mnl-gallery"))
    expect(gallery.locator(".mnl-digit")).to_have_count(1, timeout=60_000)
    expect(gallery.locator(".mnl-digit")).to_have_attribute("data-label", re.compile(r"^7\b"))
    # The screenshot shows the whole page: the accuracy above the gallery and the buttons below it drawn too.
    expect(page.get_by_text("The bundled pretrained network")).to_be_visible(timeout=60_000)
    expect(page.get_by_role("button", name="Share all my digits")).to_be_visible(timeout=60_000)
    page.screenshot(path=SCREENSHOTS / "digits_phone.png", full_page=True)
    assert not page.locator('[data-testid="stException"]').count()
    context.close()


def test_the_label_buttons_and_the_gallery_on_a_desktop(page, server_url):
    page.goto(f"{server_url}/draw")
    page.get_by_text("Draw a digit on the canvas").wait_for(timeout=60_000)
    for points in (SEVEN_TOP, SEVEN_LEG):
        _stroke(page, points)
    page.get_by_role("button", name="Right").wait_for(timeout=60_000)
    time.sleep(1.5)  # the answer to the last stroke may still be on its way
    page.get_by_role("button", name="4", exact=True).click()
    expect(page.get_by_text("Saved as a 4.")).to_be_visible(timeout=30_000)
    page.get_by_role("button", name="7", exact=True).click()
    expect(page.get_by_text("Relabelled: saved as a 7.")).to_be_visible(timeout=30_000)
    page.screenshot(path=SCREENSHOTS / "draw_desktop_saved.png", full_page=True)
    page.goto(f"{server_url}/digits")
    gallery = page.locator('[data-testid="stHtml"]').filter(has=page.locator(".mnl-gallery"))
    expect(gallery.locator(".mnl-digit")).to_have_count(1, timeout=60_000)
    expect(gallery.locator(".mnl-digit")).to_have_attribute("data-label", re.compile(r"^7\b"))
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=30_000)
    page.screenshot(path=SCREENSHOTS / "digits_desktop.png", full_page=True)
    assert not page.locator('[data-testid="stException"]').count()


def _touch_a_one(context, page, server_url: str) -> None:
    """Open the Draw page and draw a "1" with a finger, top to bottom (touch events through CDP)."""
    page.goto(f"{server_url}/draw")
    page.get_by_text("Draw a digit on the canvas").wait_for(timeout=60_000)
    canvas = page.locator("canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    touch = context.new_cdp_session(page)
    points = [(box["x"] + 140, box["y"] + 45 + 19 * i) for i in range(11)]
    for kind, (x, y) in zip(["touchStart"] + ["touchMove"] * 10, points):
        touch.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": [{"x": x, "y": y}]})
        time.sleep(0.03)
    touch.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
