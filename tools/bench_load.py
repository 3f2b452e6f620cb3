"""Many sessions on one small server: `python -m tools.bench_load` prints one JSON object.

Starts a real `streamlit run` server on loopback (MNIST_LIVE_MAX_JOBS and server.disconnectedSessionTTL set
from the options), opens `--sessions` browser sessions on the Train page (`?epochs=N` from `--epochs`) and
presses Train in all of them at once. While the jobs train or wait in line it records each session's places
in line, when each started and finished, and loads a further session's page (the "fifth page"), whose own
long run is still going (or queued) when every tab closes. Meanwhile `psutil` samples the server's memory
(RSS) and thread count. After the tabs close it waits for the server to log, for every session, that its
work stopped and its state was dropped (ui.lifecycle), and for the memory to settle.

Chromium shares the server's cores here, as a user's own machine would not. The four sessions share one
browser; the further page opens in a browser of its own (started before the clicks, as a user's browser is
running when they open a link; `--shared-browser` loads it in the four's): Playwright starts each browser in a
session of its own, and Linux's autogroups split the CPUs between sessions (the server's, each browser's) before
nice values count within one, so the further page is not queued behind the four tabs' live charts, as it would
not be on its own machine. `--browser-nice 19` lowers the browsers' whole sessions (tools.bench_app's default),
so that pages load only as fast as training leaves CPU idle; `--server-cpus 1` pins the server to one CPU and
the browsers to the others, a one-CPU server with its users' browsers elsewhere.
The further page's load (`button_shown`: the frame that drew its Train button, by the page's own clock) comes
with the steps before it (see `_open`).
`--waves N` repeats it all on the same server, to see whether memory comes back or is reused. Per wave: the
places in line each session saw, when its job started and finished (seconds after the clicks), the further
page's load time, the server's RSS and thread count at each stage, how many sessions the server logged as
ended and how many training threads were left.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.browser.conftest import (  # noqa: E402
    SCREENSHOTS,
    _chromium,
    _chromium_processes,
    _free_port,
    _wait_healthy,
    launch_niced_chromium,
)

LOG_NAME = "load_server.log"
ENDED = re.compile(r"Session \S+ ended .*?(\d+) training thread\(s\) left")
WARMED = re.compile(r"(?:TensorFlow imported and warmed up in|TensorFlow warm-up failed after) ([\d.]+) s")
QUEUED = re.compile(r"Waiting for a training slot: (\d+)\w\w in line")
FIFTH_EPOCHS = 6  # the extra session's run: long enough to be cut short by its tab closing
SETTLING_EVERY = 30  # seconds between RSS readings while the server settles


@contextlib.contextmanager
def load_server(max_jobs: int, ttl: int, log_name: str = LOG_NAME, cpus: set[int] | None = None):
    """tests.browser.conftest.running_server with the job limit and the session TTL set; yields (url, pid).

    `cpus`: the only CPUs the server may use (all of this process's by default).
    """
    SCREENSHOTS.mkdir(exist_ok=True)
    port = _free_port()
    env = {**os.environ, "MNIST_LIVE_MAX_JOBS": str(max_jobs)}
    env.setdefault("MNIST_NPZ_PATH", str(REPO.parent / "shared" / "data" / "mnist.npz"))
    with open(SCREENSHOTS / log_name, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_app.py"), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.disconnectedSessionTTL", str(ttl)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=env,
            preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, process)
            yield url, process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=20)


class Sampler:
    """The server process's RSS and thread count, sampled in a thread; peak and latest values under a lock."""

    def __init__(self, pid: int, every: float = 0.25):
        self._process = psutil.Process(pid)
        self._every = every
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.peak_rss = self.rss = self.threads = self.peak_threads = 0
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _sample(self) -> None:
        with self._process.oneshot():
            rss, threads = self._process.memory_info().rss, self._process.num_threads()
        with self._lock:
            self.rss, self.threads = rss, threads
            self.peak_rss, self.peak_threads = max(self.peak_rss, rss), max(self.peak_threads, threads)

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            with contextlib.suppress(psutil.Error):
                self._sample()

    def now(self) -> dict:
        with self._lock:
            return {"rss_mb": round(self.rss / 2**20), "threads": self.threads}

    def peaks(self) -> dict:
        with self._lock:
            return {"peak_rss_mb": round(self.peak_rss / 2**20), "peak_threads": self.peak_threads}


@dataclass
class Session:
    """One browser session on the Train page and what the bench saw of its job."""

    name: str
    context: object
    page: object
    positions: list[int] = field(default_factory=list)
    started_s: float | None = None  # seconds after the clicks when it was first seen training
    finished_s: float | None = None
    final: str | None = None

    def status(self) -> str:
        bar = self.page.locator('[data-testid="stProgress"]')
        return bar.first.inner_text(timeout=2_000) if bar.count() else ""

    def observe(self, t: float) -> None:
        """Read the status line once: places in line, first training, end."""
        with contextlib.suppress(Exception):  # a redraw can swap the element mid-read: next poll
            text = self.status()
            if match := QUEUED.search(text):
                position = int(match.group(1))
                if not self.positions or self.positions[-1] != position:
                    self.positions.append(position)
            elif self.started_s is None and ("Training ·" in text or "Starting" in text):
                self.started_s = round(t, 1)
            for word in ("Finished", "Stopped", "Diverged", "Error"):
                if self.final is None and text.startswith(word):
                    self.final, self.finished_s = word.lower(), round(t, 1)


def _finished_run(payload: bytes | str) -> bool:
    """Whether a websocket frame from the server is the end of a full script run (the page is all sent)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    if isinstance(payload, str):
        return False
    message = ForwardMsg()
    with contextlib.suppress(Exception):
        message.ParseFromString(payload)
    finished = message.WhichOneof("type") == "script_finished"
    return finished and message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY


# Marks taken by the page itself, in ms after navigation started (performance.now), so that they do not wait
# for this process (which shares the server's CPUs) to hear of them.
_PAGE_MARKS = """(() => {
    const marks = (window.__loadMarks = {});
    window.WebSocket = class extends window.WebSocket {
        constructor(...args) {
            super(...args);
            this.addEventListener("open", () => { marks.websocket_open ??= performance.now(); });
        }
    };
    const shown = () => [...document.querySelectorAll("button")].some(b => b.textContent.trim() === "Train");
    const watch = new MutationObserver(() => {
        if (shown()) {
            watch.disconnect();
            requestAnimationFrame(() => { marks.button_shown = performance.now(); });  // the frame that draws it
        }
    });
    document.addEventListener("DOMContentLoaded", () => watch.observe(document.body, {childList: true, subtree: true}));
})();"""

_FETCH_MARKS = """() => {
    const files = performance.getEntriesByType("resource").filter(r => /\\.(js|css)(\\?|$)/.test(r.name));
    const waits = files.map(r => r.responseStart - r.requestStart);
    return {
        ...window.__loadMarks,
        html_received: performance.getEntriesByType("navigation")[0].responseEnd,
        frontend_received: Math.max(0, ...files.map(r => r.responseEnd)),
        frontend_slowest_server_wait: Math.max(0, ...waits),
        frontend_files: files.length,
    };
}"""


def _open(browser, url: str, name: str) -> tuple[Session, dict]:
    """A new browser session on the Train page; with when its Train button was drawn, and the steps before.

    In seconds after navigating, as the page's own clock tells: `websocket_open` (the browser has loaded
    Streamlit's frontend and connected), `html_received`, `frontend_received` (the last of the frontend's JS and
    CSS files), `frontend_slowest_server_wait` (the longest any of them waited for the server's first byte) and
    `button_shown` (the frame that drew the Train button: the page load). As this process saw them:
    `script_finished` (the server had run the page and sent all of it) and `button_seen_by_bench`.
    """
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.add_init_script(_PAGE_MARKS)
    page = context.new_page()
    marks: dict[str, float] = {}
    started = time.monotonic()

    def on_frame(payload: bytes | str) -> None:
        if "script_finished" not in marks and _finished_run(payload):
            marks["script_finished"] = round(time.monotonic() - started, 2)

    page.on("websocket", lambda socket: socket.on("framereceived", on_frame))
    page.goto(url)
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=120_000)
    marks["button_seen_by_bench"] = round(time.monotonic() - started, 2)
    page.wait_for_function("() => window.__loadMarks.button_shown !== undefined", timeout=10_000)
    timing = page.evaluate(_FETCH_MARKS)
    count = timing.pop("frontend_files")
    marks.update({key: round(ms / 1000, 2) for key, ms in timing.items()}, frontend_files=count)
    return Session(name, context, page), marks


def _first_visit(browser, url: str, timeout: float) -> dict:
    """Open a page, as the server's first visitor would, and wait until the server logs its warm-up done.

    The first page load starts TensorFlow's import and a short warm-up run (mnist_core.training.warmup): a server that
    has had a visitor, as the class's server has by the time four students press Train at once.
    """
    opened = time.monotonic()
    session, _ = _open(browser, url, "first visitor")
    session.context.close()
    log, deadline = SCREENSHOTS / LOG_NAME, time.monotonic() + timeout
    while time.monotonic() < deadline:
        if match := WARMED.search(log.read_text(errors="replace")):
            return {
                "ok": "warmed up" in match.group(0),
                "seconds": float(match.group(1)),
                "ready_after_first_visit_s": round(time.monotonic() - opened, 1),
            }
        time.sleep(0.25)
    raise TimeoutError("the server did not log its warm-up")


def _ended_lines(log: Path) -> list[int]:
    """The training threads left, from each "Session ... ended" line the server has logged so far."""
    return [int(m.group(1)) for m in ENDED.finditer(log.read_text(errors="replace"))]


def _poll(sessions: list[Session], started: float, until, timeout: float, every: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for session in sessions:
            session.observe(time.monotonic() - started)
        if until():
            return
        time.sleep(every)
    raise TimeoutError("the sessions did not get there in time")


def _wave(
    browser,
    url: str,
    sampler: Sampler,
    sessions: int,
    epochs: int,
    timeout: float,
    settle_seconds: float,
    viewer=None,
) -> dict:
    """Sessions press Train at once, a further one loads meanwhile (in `viewer`, a browser of its own, if
    given); then every tab closes. Its figures."""
    log = SCREENSHOTS / LOG_NAME
    ended_before = len(_ended_lines(log))
    opened = [_open(browser, f"{url}/?epochs={epochs}", f"session {i + 1}") for i in range(sessions)]
    people = [session for session, _ in opened]
    loaded = sampler.now()
    started = time.monotonic()
    for person in people:
        person.page.get_by_role("button", name="Train", exact=True).click()
    # The further page loads while the first job trains and the others wait their turn.
    _poll(people, started, lambda: any(p.started_s is not None for p in people), timeout)
    extra, extra_load = _open(viewer or browser, f"{url}/?epochs={FIFTH_EPOCHS}", "extra session")
    extra.page.get_by_role("button", name="Train", exact=True).click()
    everyone = [*people, extra]
    _poll(everyone, started, lambda: bool(extra.positions) or extra.started_s is not None, timeout)
    if extra.positions:  # behind the four: its page shows its place in line
        extra.page.screenshot(path=SCREENSHOTS / "train_queued.png")
    _poll(everyone, started, lambda: all(p.final for p in people), timeout)
    _poll(everyone, started, lambda: extra.started_s is not None, timeout)  # its long run is under way
    before_close = sampler.now()
    closed = time.monotonic()
    for person in everyone:
        person.context.close()
    ended_after = None
    while time.monotonic() < closed + timeout:
        if len(_ended_lines(log)) - ended_before >= len(everyone):
            ended_after = time.monotonic() - closed
            break
        time.sleep(0.5)
    all_ended = sampler.now()
    settling = _watch_settling(sampler, settle_seconds)  # the later collections (ui.lifecycle), the allocator
    lines = _ended_lines(log)[ended_before:]
    return {
        "queue_positions_seen": {p.name: p.positions for p in people},
        "started_seconds": {p.name: p.started_s for p in people},
        "finished_seconds": {p.name: p.finished_s for p in people},
        "final_status": {p.name: p.final for p in people},
        "fifth_page_load_seconds": extra_load["button_shown"],
        "fifth_page_load_breakdown": extra_load,
        "fifth_session_queue_positions": extra.positions,
        "page_load_seconds": [marks["button_shown"] for _, marks in opened],
        "server_pages_loaded": loaded,
        "server_before_close": before_close,
        "sessions_ended_logged": len(lines),
        "training_threads_left": lines[-1] if lines else None,
        "seconds_from_close_to_all_ended": None if ended_after is None else round(ended_after, 1),
        "server_when_all_ended": all_ended,
        "server_settled": {**sampler.now(), "seconds_after_all_ended": settle_seconds},
        "server_settling_rss_mb": settling,
    }


def _watch_settling(sampler: Sampler, seconds: float, every: float = SETTLING_EVERY) -> dict[str, int]:
    """The server's RSS every `every` seconds for `seconds` after the sessions ended, keyed by seconds."""
    rss, waited = {}, 0.0
    while waited < seconds:
        step = min(every, seconds - waited)
        time.sleep(step)
        waited += step
        rss[f"{waited:g}"] = sampler.now()["rss_mb"]
    return rss


def run(
    browser,
    sessions: int = 4,
    epochs: int = 1,
    max_jobs: int = 1,
    ttl: int = 10,
    timeout: float = 600,
    settle_seconds: float = 20,
    waves: int = 1,
    server_cpus: set[int] | None = None,
    viewer=None,
) -> dict:
    """The scenario `waves` times on one server of its own; every figure in one dict.

    `viewer`: a second browser for the further session's page (the four share `browser`).
    """
    with load_server(max_jobs, ttl, cpus=server_cpus) as (url, pid), Sampler(pid) as sampler:
        idle = sampler.now()
        warm_up = _first_visit(browser, url, timeout)
        results = [
            _wave(browser, url, sampler, sessions, epochs, timeout, settle_seconds, viewer) for _ in range(waves)
        ]
        peaks = sampler.peaks()
    return {
        "sessions": sessions,
        "epochs": epochs,
        "max_jobs": max_jobs,
        "disconnected_session_ttl": ttl,
        "server_cpus": sorted(server_cpus) if server_cpus else sorted(os.sched_getaffinity(0)),
        "fifth_page_browser": "its own" if viewer is not None else "shared with the others",
        "server_idle": idle,
        "warm_up": warm_up,
        **peaks,
        "waves": results,
    }


def _started(browser):
    """A browser that has opened and closed one blank page: running, as a user's is when they open a link."""
    context = browser.new_context()
    context.new_page().goto("about:blank")
    context.close()
    return browser


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_load", description=__doc__)
    parser.add_argument("--sessions", type=int, default=4, help="sessions that press Train at once")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each of their jobs")
    parser.add_argument("--max-jobs", type=int, default=1, help="MNIST_LIVE_MAX_JOBS for the server")
    parser.add_argument("--ttl", type=int, default=10, help="server.disconnectedSessionTTL, seconds")
    parser.add_argument(
        "--browser-nice", type=int, default=0, help="CPU priority of the whole browser against the server (0-19)"
    )
    parser.add_argument("--settle", type=float, default=30, help="seconds to watch memory after the last release")
    parser.add_argument("--waves", type=int, default=1, help="times to run it on the same server (memory reuse)")
    layout = parser.add_mutually_exclusive_group()
    layout.add_argument(
        "--server-cpus", type=int, default=0,
        help="give the server this many CPUs and the browsers the others, as on a server with its users elsewhere",
    )  # fmt: skip
    layout.add_argument(
        "--fifth-cpu", action="store_true",
        help="give the further page's browser a CPU of its own, as a user's machine; everything else the others",
    )  # fmt: skip
    layout.add_argument(
        "--shared-browser", action="store_true",
        help="load the further page in the four sessions' browser rather than in a browser of its own",
    )  # fmt: skip
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    mine = sorted(os.sched_getaffinity(0))
    server_cpus, browser_cpus, fifth_cpus = set(mine), set(mine), set(mine)
    if args.server_cpus:
        if not 0 < args.server_cpus < len(mine):
            raise SystemExit(f"--server-cpus must leave the browsers at least one of the {len(mine)} CPUs")
        server_cpus = set(mine[: args.server_cpus])
        browser_cpus = fifth_cpus = set(mine[args.server_cpus :])
    elif args.fifth_cpu:
        if len(mine) < 2:
            raise SystemExit("--fifth-cpu needs at least two CPUs")
        server_cpus = browser_cpus = set(mine[:-1])
        fifth_cpus = {mine[-1]}

    if _chromium() is None:
        raise SystemExit("needs Chromium (Debian package 'chromium')")
    with sync_playwright() as playwright:
        browser = launch_niced_chromium(playwright, args.browser_nice, browser_cpus)
        viewer = None
        if not args.shared_browser:
            viewer = _started(launch_niced_chromium(playwright, args.browser_nice, fifth_cpus))
        masks = sorted({tuple(sorted(p.cpu_affinity())) for p in _chromium_processes()})  # the pinning took
        os.sched_setaffinity(0, server_cpus)  # this process (the server's parent, and its sampler) with the server
        try:
            result = run(browser, args.sessions, args.epochs, args.max_jobs, args.ttl, settle_seconds=args.settle,
                         waves=args.waves, server_cpus=server_cpus, viewer=viewer)  # fmt: skip
        finally:
            for each in (browser, viewer):
                if each is not None:
                    each.close()
    result.update(
        browser_cpus=sorted(browser_cpus),
        browser_cpu_masks_seen=masks,
        fifth_browser_cpus=sorted(fifth_cpus) if viewer is not None else "the four's",
        browser_nice=args.browser_nice,
    )
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
