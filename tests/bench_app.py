"""In-app training speed against the headless benchmark: `python -m tests.bench_app` prints one JSON object.

Starts a real `streamlit run` server, presses Train in headless Chromium, lets the default run finish
while the page redraws live, and reads the examples/s tile; then runs the same settings headless.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from mnist_core.settings import TrainSettings  # noqa: E402
from tests.browser.conftest import CHROMIUM_FLAGS, _free_port  # noqa: E402


def in_app_examples_per_second(epochs: int) -> dict:
    from playwright.sync_api import sync_playwright

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(180):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
            epochs_field = page.locator('input[aria-label="Epochs"]')
            epochs_field.fill(str(epochs))
            epochs_field.press("Enter")
            time.sleep(1)
            started = time.monotonic()
            page.get_by_role("button", name="Train", exact=True).click()
            page.get_by_text("Finished · epoch").wait_for(timeout=600_000)
            wall = time.monotonic() - started
            tile = page.locator('[data-testid="stMetric"]').filter(has_text="Examples / s")
            value = float(tile.locator('[data-testid="stMetricValue"]').inner_text().replace(",", ""))
            browser.close()
        return {"in_app_examples_per_second": value, "in_app_wall_seconds": round(wall, 1)}
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_app", description=__doc__)
    parser.add_argument("--epochs", type=int, default=TrainSettings().epochs)
    args = parser.parse_args()
    os.environ.setdefault("MNIST_NPZ_PATH", str(REPO.parent / "shared" / "data" / "mnist.npz"))
    app = in_app_examples_per_second(args.epochs)
    from mnist_core.bench import run

    headless = run(TrainSettings(epochs=args.epochs))
    result = {
        **app,
        "headless_examples_per_second": headless["examples_per_second"],
        "ratio": round(app["in_app_examples_per_second"] / headless["examples_per_second"], 3),
        "epochs": args.epochs,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
