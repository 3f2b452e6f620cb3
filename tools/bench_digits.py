"""Saved digits: how long saving one takes on SQLite, and how long the My digits page takes with 1,000 of them.

    python -m tools.bench_digits [--saves 200] [--gallery 1000]

Prints one JSON object: the median and 90th percentile of a save (ms, each a new drawing, into a fresh SQLite
file), listing the gallery's digits (ms), the pretrained network reading them (ms), the gallery's HTML (ms and
bytes), and a whole script run of the My digits page through AppTest (ms: everything the server does to draw it,
not the browser's painting). Targets (issue 32): a save under 50 ms, the gallery under 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def _digits(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        image = np.zeros((28, 28), np.uint8)
        image[4:24, 8:20] = rng.integers(0, 256, (20, 12), dtype=np.uint8)
        out.append(image)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--saves", type=int, default=200)
    parser.add_argument("--gallery", type=int, default=1000)
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

    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "streamlit_app.py"), default_timeout=300)
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
            }
        )
    )
    store.dispose()


if __name__ == "__main__":
    main()
