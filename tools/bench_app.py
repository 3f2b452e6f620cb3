"""In-app training speed against the headless benchmark: `python -m tools.bench_app` prints one JSON object.

Starts a real `streamlit run` server, presses Train in headless Chromium, lets the default run finish
while the page redraws live every second, and reads the examples/s tile; then runs the same settings
headless. A user's browser runs on their own machine, but here it shares the server's two cores: by
default it runs at the lowest CPU priority (`--browser-nice 19`) so that it takes only spare CPU, as it
would elsewhere; `--browser-nice 0` measures the browser competing at full priority.

`--watch filters` (or `activations`, `gradients`, or `architecture`, which does not redraw) trains while the page shows
that tab of Inside the network instead of the Train page; `--skip-headless` leaves out the headless run.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mnist_core.settings import TrainSettings  # noqa: E402
from tests.browser.conftest import launch_niced_chromium, running_server  # noqa: E402


def in_app_examples_per_second(epochs: int, browser_nice: int, watch: str = "train") -> dict:
    from playwright.sync_api import sync_playwright

    with running_server("bench_app_server.log") as url, sync_playwright() as playwright:
        browser = launch_niced_chromium(playwright, browser_nice)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
        epochs_field = page.locator('input[aria-label="Epochs"]')
        epochs_field.fill(str(epochs))
        epochs_field.press("Enter")
        time.sleep(1)
        started = time.monotonic()
        page.get_by_role("button", name="Train", exact=True).click()
        if watch == "train":
            page.get_by_text("Finished · epoch").wait_for(timeout=600_000)
        else:
            page.get_by_text("Training ·").wait_for(timeout=120_000)
            page.get_by_role("link", name="Inside the network").click()
            page.get_by_role("tab", name=watch.capitalize(), exact=True).click()
            page.get_by_text("Your network (finished").wait_for(timeout=600_000)
        wall = time.monotonic() - started
        if watch != "train":
            page.get_by_role("link", name="Train").click()
        tile = page.locator('[data-testid="stMetric"]').filter(has_text="Examples / s")
        value = float(tile.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))
        browser.close()
    return {"in_app_examples_per_second": value, "in_app_wall_seconds": round(wall, 1), "watch": watch}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_app", description=__doc__)
    parser.add_argument("--epochs", type=int, default=TrainSettings().epochs)
    parser.add_argument("--browser-nice", type=int, default=19, help="CPU niceness of the browser (0-19)")
    watched = ("train", "architecture", "filters", "activations", "gradients")
    parser.add_argument("--watch", choices=watched, default="train")
    parser.add_argument("--skip-headless", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("MNIST_NPZ_PATH", str(REPO.parent / "shared" / "data" / "mnist.npz"))
    app = in_app_examples_per_second(args.epochs, args.browser_nice, args.watch)
    if args.skip_headless:
        print(json.dumps({**app, "epochs": args.epochs, "browser_nice": args.browser_nice}, indent=2))
        return
    from tools.bench import run

    headless = run(TrainSettings(epochs=args.epochs))
    result = {
        **app,
        "headless_examples_per_second": headless["examples_per_second"],
        "ratio": round(app["in_app_examples_per_second"] / headless["examples_per_second"], 3),
        "epochs": args.epochs,
        "browser_nice": args.browser_nice,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
