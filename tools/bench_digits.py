"""Saved digits: how long saving one takes on SQLite, and how long the My digits page takes with 1,000 of them.

    python -m tools.bench_digits [--saves 200] [--gallery 1000] [--loads 3]

Prints one JSON object: the median and 90th percentile of a save (ms, each a new drawing, into a fresh SQLite
file), listing the gallery's digits (ms), the pretrained network reading them (ms), the gallery's HTML (ms and
bytes), and a whole script run of the My digits page through AppTest (ms: everything the server does to draw it,
not the browser's painting). Targets (issue 32): a save under 50 ms, the gallery under 1 s.

Then, in a browser (`--loads 0` skips it): a real `streamlit run` server on the same store file and headless
Chromium whose cookie is a browser id with the same 1,000 digits saved under it. After one load that is not
counted (the server's first: it loads the pretrained network and starts TensorFlow's warm-up) and the warm-up's
end, `--loads` loads of /digits, each in a new browser context (a new session, as a new visit), are timed by the
page's own clock: navigation start to the first animation frame with all the gallery's images in the DOM and
loaded (`img.complete`). `gallery_browser_ms` is their median; `gallery_browser_ms_each` lists them.
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
# Truthy (the page's clock, ms since navigation start) once `n` gallery images are in the DOM and loaded.
_GALLERY_LOADED = """(n) => {
    const images = document.querySelectorAll('.mnl-gallery img');
    if (images.length < n) return false;
    for (const image of images) if (!image.complete) return false;
    return performance.now();
}"""


def _digits(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        image = np.zeros((28, 28), np.uint8)
        image[4:24, 8:20] = rng.integers(0, 256, (20, 12), dtype=np.uint8)
        out.append(image)
    return out


def _wait_warm(log: Path, timeout: float = 300) -> bool:
    from tools.bench_load import WARMED

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if match := WARMED.search(log.read_text(errors="replace")):
            return "warmed up" in match.group(0)
        time.sleep(0.5)
    raise TimeoutError("the server did not log its warm-up")


def _gallery_load(browser, url: str, n: int) -> float:
    """Navigation start to the frame with all `n` gallery images loaded, by the page's clock (ms)."""
    from ui.browser_id import COOKIE

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_cookies([{"name": COOKIE, "value": TOKEN, "url": url}])
    page = context.new_page()
    try:
        page.goto(f"{url}/digits")
        loaded = page.wait_for_function(_GALLERY_LOADED, arg=n, timeout=180_000).json_value()
        shown = page.locator(".mnl-gallery img").count()
        if shown != n or page.locator('[data-testid="stException"]').count():
            raise RuntimeError(f"the gallery shows {shown} images, not {n}, or the page raised")
        return float(loaded)
    finally:
        context.close()


def browser_gallery(store, images: list[np.ndarray], loads: int) -> dict:
    """`images` saved under the browser id TOKEN, then the My digits page loaded `loads` times in Chromium."""
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM_FLAGS, SCREENSHOTS, running_server

    for i, image in enumerate(images):
        store.digits.save(f"browser:{TOKEN}", image, i % 10)
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with running_server(LOG_NAME) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        try:
            first = _gallery_load(browser, url, len(images))  # not counted: the server's first load
            warmed = _wait_warm(SCREENSHOTS / LOG_NAME)
            each = [_gallery_load(browser, url, len(images)) for _ in range(loads)]
        finally:
            browser.close()
    return {
        "gallery_browser_ms": round(statistics.median(each), 1),
        "gallery_browser_ms_each": [round(t, 1) for t in each],
        "gallery_browser_first_load_ms": round(first, 1),
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
    for i, image in enumerate(_digits(args.gallery, seed=1)):
        store.digits.save(owner, image, i % 10)
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
    at.run()  # the pretrained network's reading is kept per digit set: the first run after saving computes it
    at.switch_page("pages/train.py").run()
    at.switch_page("pages/digits.py").run()
    at.session_state["my_digits_pretrained_reading"] = None
    start = time.perf_counter()
    at.run()
    page_ms = (time.perf_counter() - start) * 1000
    assert not at.exception, at.exception
    shown = sum(h.proto.body.count('class="mnl-digit') for h in at.get("html"))
    in_browser = browser_gallery(store, _digits(args.gallery, seed=1), args.loads) if args.loads > 0 else {}
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
