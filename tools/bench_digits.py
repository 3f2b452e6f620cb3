"""Saved digits: how long saving one takes on SQLite, and how long the My digits page takes with 1,000 of them.

    python -m tools.bench_digits [--saves 200] [--gallery 1000] [--loads 3]

Prints one JSON object: the median and 90th percentile of a save (ms, each a new drawing, into a fresh SQLite
file), listing the gallery's digits (ms), the pretrained network reading them (ms), the gallery's HTML (ms and
bytes), and a whole script run of the My digits page through AppTest (ms: everything the server does to draw it,
not the browser's painting). Targets (issue 32): a save under 50 ms, the gallery under 1 s.

Then, in a browser (`--loads 0` skips it): a real `streamlit run` server on the same store file and headless
Chromium whose cookie is a browser id with 1,000 of MNIST's test digits saved under it (real strokes: the gallery's
one image compresses as drawn digits do, not as noise). After one load that is not counted (the server's first: it
loads the pretrained network and starts TensorFlow's warm-up) and the warm-up's end, /digits is loaded `--loads`
times as a first visit (each in a new browser context: nothing cached) and `--loads` times as a returning one (one
context: the app's scripts cached); each load is a new session. Timed by the page's own clock: `gallery_drawn_ms`
is the median, over all of them, from the page's title in the DOM (the app is up and this script run has begun
drawing the page) to the first animation frame with all 1,000 cards in the DOM and their image decoded; the
`page_and_gallery_ms_*` lists time the same frame from navigation start, Streamlit's own page load included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

TOKEN = "bench-digits-gallery-0001"  # the browser's id, in the app's cookie
LOG_NAME = "bench_digits_server.log"
# Installed before the page's scripts: the page's clock when the page's title is first in the DOM (the app is up
# and this script run has begun to draw), kept in window.__mnlTitle.
_TITLE_CLOCK = """(() => {
    const seen = () => {
        if (window.__mnlTitle === undefined && [...document.querySelectorAll('h1')].some(
                h => h.textContent.includes('My digits'))) window.__mnlTitle = performance.now();
    };
    new MutationObserver(seen).observe(document, {childList: true, subtree: true});
})()"""
# Once `n` gallery cards are in the DOM: their sprite decoded, then the next frame; the page's clock at both ends.
_GALLERY_LOADED = """async (n) => {
    const waitFor = async (ready) => { while (!ready()) await new Promise(r => setTimeout(r, 5)); };
    await waitFor(() => document.querySelectorAll('.mnl-gallery .mnl-digit').length >= n);
    const tile = document.querySelector('.mnl-gallery .mnl-digit');
    const url = getComputedStyle(tile).backgroundImage.slice(5, -2);
    const sprite = new Image();
    sprite.src = url;
    await sprite.decode();
    await new Promise(r => requestAnimationFrame(() => r()));
    return [performance.now(), window.__mnlTitle];
}"""


def _digits(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        image = np.zeros((28, 28), np.uint8)
        image[4:24, 8:20] = rng.integers(0, 256, (20, 12), dtype=np.uint8)
        out.append(image)
    return out


def _handwritten(n: int) -> list[tuple[np.ndarray, int]]:
    """`n` of MNIST's test digits with their labels (cycled past 10,000): like drawn digits, unlike noise."""
    from mnist_core.data.mnist import load_mnist

    test = load_mnist().test
    return [(test.x[i % len(test)], int(test.y[i % len(test)])) for i in range(n)]


def _wait_warm(log: Path, timeout: float = 300) -> bool:
    from tools.bench_load import WARMED

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if match := WARMED.search(log.read_text(errors="replace")):
            return "warmed up" in match.group(0)
        time.sleep(0.5)
    raise TimeoutError("the server did not log its warm-up")


def _gallery_load(context, url: str, n: int) -> tuple[float, float]:
    """A new page (a new session) of /digits in `context`: navigation start to the frame with all `n` gallery cards
    and their sprite drawn, and the page's title to that frame (ms, by the page's clock)."""
    page = context.new_page()
    try:
        page.goto(f"{url}/digits")
        loaded, titled = page.evaluate(_GALLERY_LOADED, n)
        shown = page.locator(".mnl-gallery .mnl-digit").count()
        if shown != n or page.locator('[data-testid="stException"]').count():
            raise RuntimeError(f"the gallery shows {shown} digits, not {n}, or the page raised")
        return float(loaded), float(loaded - titled)
    finally:
        page.close()


def _context(browser, url: str):
    from ui.browser_id import COOKIE

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": COOKIE, "value": TOKEN, "url": url}])
    context.add_init_script(_TITLE_CLOCK)
    return context


def _loads(browser, url: str, n: int, loads: int, fresh: bool) -> dict[str, list[float]]:
    """`loads` loads, each in a new browser context (`fresh`: a first visit, nothing cached) or all in one (a
    returning visit: the app's scripts are in the browser's cache after one uncounted load)."""
    times = []
    if fresh:
        for _ in range(loads):
            context = _context(browser, url)
            try:
                times.append(_gallery_load(context, url, n))
            finally:
                context.close()
    else:
        context = _context(browser, url)
        try:
            _gallery_load(context, url, n)
            times = [_gallery_load(context, url, n) for _ in range(loads)]
        finally:
            context.close()
    return {"navigation": [round(t, 1) for t, _ in times], "title": [round(t, 1) for _, t in times]}


def browser_gallery(store, images: list[tuple[np.ndarray, int]], loads: int) -> dict:
    """`images` saved under the browser id TOKEN, then the My digits page loaded `loads` times as a first visit and
    `loads` times as a returning one, in Chromium."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_FLAGS, SCREENSHOTS, running_server

    for image, label in images:
        store.digits.save(f"browser:{TOKEN}", image, label)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with running_server(LOG_NAME) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            context = _context(browser, url)
            first, _ = _gallery_load(context, url, len(images))  # not counted: the server's first load
            context.close()
            warmed = _wait_warm(SCREENSHOTS / LOG_NAME)
            fresh = _loads(browser, url, len(images), loads, fresh=True)
            again = _loads(browser, url, len(images), loads, fresh=False)
        finally:
            browser.close()
    return {
        "gallery_drawn_ms": round(statistics.median(fresh["title"] + again["title"]), 1),
        "gallery_drawn_ms_first_visit": fresh["title"],
        "gallery_drawn_ms_returning": again["title"],
        "page_and_gallery_ms_first_visit": fresh["navigation"],
        "page_and_gallery_ms_returning": again["navigation"],
        "server_first_load_ms": round(first, 1),
        "browser_warm_up_ok": warmed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--gallery", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=3, help="timed loads of the gallery in Chromium; 0: none")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mnist-live-bench-digits-"))
    os.environ["MNIST_LIVE_RUNS"] = str(folder / "runs.sqlite")

    from mnist_core.charts.digits import gallery_html
    from mnist_core.inspection.evaluation import evaluate
    from mnist_core.snapshots.pretrained import load_pretrained
    from mnist_core.store import RunStore, store_config

    config = store_config()
    store = RunStore(config.url, config.limits)
    store.digits.count()  # open and migrate before timing
    times = []
    for i, image in enumerate(_digits(args.saves)):
        start = time.perf_counter()
        store.digits.save("browser:bench-saves", image, i % 10)
        times.append((time.perf_counter() - start) * 1000)

    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300)
    at.run()
    at.switch_page("pages/digits.py").run()
    from ui.browser_id import OWNER

    owner = at.session_state[OWNER]
    for image, label in _handwritten(args.gallery):
        store.digits.save(owner, image, label)
    start = time.perf_counter()
    mine = store.digits.digits(owner)
    listed = (time.perf_counter() - start) * 1000
    ids, x, y = mine.arrays()
    model = load_pretrained().model
    evaluate(model.predict, x[:10], y[:10], 4)  # traced once before timing
    start = time.perf_counter()
    reading = evaluate(model.predict, x, y, 4, seed=0)
    read = (time.perf_counter() - start) * 1000
    start = time.perf_counter()
    page_html = gallery_html(ids, x, y, reading.predicted)
    html_ms = (time.perf_counter() - start) * 1000
    at.run()
    at.switch_page("pages/train.py").run()
    at.switch_page("pages/digits.py").run()
    from ui.my_digits import pretrained_reading

    pretrained_reading.clear()  # timed cold: as the first visit after a digit is saved
    start = time.perf_counter()
    at.run()
    page_ms = (time.perf_counter() - start) * 1000
    assert not at.exception, at.exception
    shown = sum(h.proto.body.count('class="mnl-digit') for h in at.get("html"))
    in_browser = browser_gallery(store, _handwritten(args.gallery), args.loads) if args.loads > 0 else {}
    print(
        json.dumps(
            {
                "saves": args.saves,
                "save_ms_median": round(statistics.median(times), 2),
                "save_ms_p90": round(sorted(times)[int(0.9 * len(times))], 2),
                "gallery_digits": len(mine),
                "gallery_shown": shown,
                "list_ms": round(listed, 1),
                "read_pretrained_ms": round(read, 1),
                "gallery_html_ms": round(html_ms, 1),
                "gallery_html_bytes": len(page_html),
                "page_script_run_ms": round(page_ms, 1),
                **in_browser,
            }
        )
    )
    store.dispose()


if __name__ == "__main__":
    main()
