"""How fast the app feels in a browser: `python -m tools.bench_browser` prints one JSON object.

Starts a fresh `streamlit run` server and headless Chromium, then measures, by the page's own clock
(`performance.now()`, so that this process, which shares the CPUs, adds nothing):

- `first_load_s`: the server's first page load, navigation to the frame that drew the Train button
  (tools.bench_load's marks; the same load also starts TensorFlow's warm-up);
- `later_load_s`: median and max of `--loads` further page loads, each in a new browser context, once the
  warm-up has finished;
- `draw_ms`: mouse-up to the answer in the Draw page's DOM, median, p90 and max over `--rounds` passes of
  the fixed synthetic strokes in STROKES (a capturing `mouseup` listener stamps the time, a `MutationObserver`
  sees the answer appear; the canvas is cleared between digits), and how many answers were right;
- `train_frame_ms`: the Train page's frame intervals (`requestAnimationFrame`) while a one-epoch job trains
  and the page redraws live, median, p95 and max, and the share of frames longer than 50 ms.

`--browser-nice` weighs the browser's CPU priority (0-19) against the server's, as in tools.bench_app.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.browser.conftest import SCREENSHOTS, launch_niced_chromium, running_server  # noqa: E402
from tools.bench_load import WARMED, _open  # noqa: E402

LOG_NAME = "bench_browser_server.log"
CANVAS = 280


def _circle(cx: float, cy: float, rx: float, ry: float, start: float = 0.0, turn: float = 1.0, n: int = 24):
    return [
        (cx + rx * math.sin(start + turn * 2 * math.pi * t / n), cy - ry * math.cos(start + turn * 2 * math.pi * t / n))
        for t in range(n + 1)
    ]


# One stroke per digit, in canvas pixels (280x280), with the digit it is meant to be.
STROKES: tuple[tuple[str, list[tuple[float, float]]], ...] = (
    ("1", [(140, 45), (140, 235)]),
    ("0", _circle(140, 140, 55, 85)),
    ("7", [(70, 55), (210, 55), (120, 235)]),
    ("2", [*_circle(140, 100, 55, 50, -math.pi / 2, 0.6, 12), (80, 230), (210, 230)]),
    ("3", [*_circle(135, 90, 50, 42, -math.pi / 2, 0.75, 10), *_circle(135, 178, 55, 48, 0, 0.75, 10)[1:]]),
    ("4", [(170, 235), (170, 45), (75, 170), (215, 170)]),
    ("6", [(180, 50), (110, 120), *_circle(140, 180, 50, 50, -math.pi / 2, 1.0, 16)]),
    ("8", [*_circle(140, 95, 40, 45, math.pi, -1.0, 16), *_circle(140, 185, 50, 45, 0, 1.0, 16)]),
    ("9", [*_circle(135, 95, 45, 45, math.pi / 2, -1.0, 16), (180, 95), (175, 235)]),
    ("5", [(195, 50), (95, 50), (90, 125), *_circle(130, 170, 55, 50, -math.pi / 2, 0.7, 10)]),
    ("1", [(120, 60), (150, 40), (150, 240)]),
    ("0", _circle(140, 140, 70, 90)),
)

# Installed in every page: mouse-up stamps, and the time each answer first appears after one.
_DRAW_MARKS = """(() => {
    const marks = (window.__draw = {pending: null, latencies: [], answers: [], sent: [], received: [], last: []});
    let step = null;  // this stroke's websocket times: request sent, first reply, the message with the answer
    window.WebSocket = class extends window.WebSocket {
        constructor(...args) {
            super(...args);
            this.addEventListener("message", (event) => {
                if (!step || step.sent === undefined) return;
                step.received ??= performance.now();
                if (step.last === undefined && event.data instanceof ArrayBuffer
                    && new TextDecoder().decode(event.data).includes("confident")) step.last = performance.now();
            });
        }
        send(data) {
            if (step && step.sent === undefined) step.sent = performance.now();
            return super.send(data);
        }
    };
    const answer = () => [...document.querySelectorAll('[data-testid="stHtml"]')]
        .find(e => e.textContent.includes("confident"));
    document.addEventListener("mouseup", () => {
        if (!answer()) {
            marks.pending = performance.now();
            step = {};
        }
    }, true);
    const seen = new MutationObserver(() => {
        const shown = marks.pending !== null && answer();
        if (shown) {
            const now = performance.now();
            marks.latencies.push(now - marks.pending);
            marks.sent.push((step.sent ?? now) - marks.pending);
            marks.received.push((step.received ?? now) - marks.pending);
            marks.last.push((step.last ?? now) - marks.pending);
            marks.answers.push(shown.querySelector("span").textContent.trim());
            marks.pending = step = null;
        }
    });
    document.addEventListener("DOMContentLoaded", () =>
        seen.observe(document.body, {childList: true, subtree: true, characterData: true}));
})();"""

_FRAMES = """(seconds) => new Promise(done => {
    const gaps = [];
    let last = performance.now();
    const end = last + seconds * 1000;
    const tick = now => {
        gaps.push(now - last);
        last = now;
        if (now < end) requestAnimationFrame(tick); else done(gaps);
    };
    requestAnimationFrame(tick);
})"""


def _stroke(page, points) -> None:
    box = page.locator("canvas").first.bounding_box()
    page.mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x, box["y"] + y, steps=3)
    page.mouse.up()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def _summary(values: list[float], digits: int = 1) -> dict:
    return {
        "median": round(statistics.median(values), digits),
        "p90": round(_percentile(values, 90), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


def _wait_warm(timeout: float = 300) -> bool:
    deadline, log = time.monotonic() + timeout, SCREENSHOTS / LOG_NAME
    while time.monotonic() < deadline:
        if match := WARMED.search(log.read_text(errors="replace")):
            return "warmed up" in match.group(0)
        time.sleep(0.5)
    raise TimeoutError("the server did not log its warm-up")


def page_loads(browser, url: str, loads: int) -> dict:
    """The fresh server's first load, then `loads` loads once it has warmed up (seconds to the Train button)."""
    session, first = _open(browser, url, "first")
    session.context.close()
    warmed = _wait_warm()
    later = []
    for i in range(loads):
        session, marks = _open(browser, url, f"later {i}")
        session.context.close()
        later.append(marks["button_shown"])
    return {
        "first_load_s": first["button_shown"],
        "first_load_steps_s": {k: v for k, v in first.items() if k != "button_shown"},
        "warm_up_ok": warmed,
        "later_load_s": {"median": round(statistics.median(later), 2), "max": max(later), "n": len(later)},
    }


def draw_latencies(browser, url: str, rounds: int) -> dict:
    """Mouse-up to answer over `rounds` passes of STROKES, the canvas cleared before each digit."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.add_init_script(_DRAW_MARKS)
    page = context.new_page()
    page.goto(f"{url}/draw")
    prompt = page.get_by_text("Draw a digit on the canvas")
    prompt.wait_for(timeout=120_000)
    _wait_warm()  # measured on a server that is not importing TensorFlow meanwhile
    _stroke(page, STROKES[0][1])  # not counted: the first answer loads the pretrained network
    page.wait_for_function("() => window.__draw.latencies.length > 0", timeout=120_000)
    page.get_by_role("button", name="Clear", exact=True).click()
    prompt.wait_for(timeout=30_000)
    page.evaluate(
        "() => { for (const k of ['latencies', 'answers', 'sent', 'received', 'last']) window.__draw[k] = []; }"
    )
    expected = []
    for _ in range(rounds):
        for digit, points in STROKES:
            count = page.evaluate("() => window.__draw.latencies.length")
            _stroke(page, points)
            page.wait_for_function(f"() => window.__draw.latencies.length > {count}", timeout=60_000)
            expected.append(digit)
            page.wait_for_timeout(300)  # the explanations after the answer
            page.get_by_role("button", name="Clear", exact=True).click()
            prompt.wait_for(timeout=30_000)
    marks = page.evaluate("() => window.__draw")
    page.screenshot(path=SCREENSHOTS / "bench_browser_draw.png", full_page=True)
    context.close()
    got = marks["answers"]
    right = sum(a == b for a, b in zip(expected, got))
    return {
        "draw_ms": _summary(marks["latencies"]),
        "draw_steps_median_ms": {
            "rerun_request_sent": round(statistics.median(marks["sent"]), 1),
            "first_reply": round(statistics.median(marks["received"]), 1),
            "answer_message": round(statistics.median(marks["last"]), 1),
        },
        "draw_right": f"{right} of {len(expected)}",
        "draw_answers": got,
    }


def train_frames(browser, url: str, seconds: float) -> dict:
    """Frame intervals on the Train page while a one-epoch job trains there."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(f"{url}/?epochs=1")
    train = page.get_by_role("button", name="Train", exact=True)
    train.wait_for(timeout=120_000)
    train.click()
    page.get_by_text("Training ·").wait_for(timeout=120_000)
    page.locator('[data-testid="stVegaLiteChart"]').first.wait_for(timeout=60_000)
    gaps = page.evaluate(_FRAMES, seconds)[1:]
    page.screenshot(path=SCREENSHOTS / "bench_browser_train.png", full_page=True)
    context.close()
    long_share = sum(g > 50 for g in gaps) / len(gaps)
    return {
        "train_frame_ms": {**_summary(gaps), "p95": round(_percentile(gaps, 95), 1), "over_50ms": round(long_share, 3)}
    }


PARTS = ("loads", "draw", "train")


def run(
    rounds: int = 1, loads: int = 5, frame_seconds: float = 8.0, browser_nice: int = 0, parts: tuple = PARTS
) -> dict:
    from playwright.sync_api import sync_playwright

    result: dict = {}
    with running_server(LOG_NAME) as url, sync_playwright() as playwright:
        browser = launch_niced_chromium(playwright, browser_nice)
        if "loads" in parts:
            result.update(page_loads(browser, url, loads))
        if "draw" in parts:
            result.update(draw_latencies(browser, url, rounds))
        if "train" in parts:
            result.update(train_frames(browser, url, frame_seconds))
        browser.close()
    return {**result, "browser_nice": browser_nice, "cpus": os.cpu_count()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_browser", description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="passes over the synthetic strokes")
    parser.add_argument("--loads", type=int, default=5, help="page loads on the warm server")
    parser.add_argument("--frame-seconds", type=float, default=8.0, help="how long to record the Train page's frames")
    parser.add_argument("--browser-nice", type=int, default=0, help="CPU niceness of the browser (0-19)")
    parser.add_argument("--only", choices=PARTS, action="append", help="measure only this part (repeatable)")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.loads < 1 or args.frame_seconds <= 0:
        parser.error("--rounds, --loads and --frame-seconds must be positive")
    os.environ.setdefault("MNIST_NPZ_PATH", str(REPO.parent / "shared" / "data" / "mnist.npz"))
    result = run(args.rounds, args.loads, args.frame_seconds, args.browser_nice, tuple(args.only or PARTS))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
