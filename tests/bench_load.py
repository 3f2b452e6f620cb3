"""Many sessions on one small server: `python -m tests.bench_load` prints one JSON object.

Starts a real `streamlit run` server on loopback (MNIST_LIVE_MAX_JOBS and server.disconnectedSessionTTL set
from the options), opens `--sessions` browser sessions on the Train page (`?epochs=N` from `--epochs`) and
presses Train in all of them at once. While the jobs train or wait in line it records each session's places
in line, when each started and finished, and loads a further session's page (the "fifth page"), whose own
long run is still going (or queued) when every tab closes. Meanwhile `psutil` samples the server's memory
(RSS) and thread count. After the tabs close it waits for the server to log, for every session, that its
work stopped and its state was dropped (ui.lifecycle), and for the memory to settle.

Chromium shares the server's cores here, so by default it runs at the lowest CPU priority (`--browser-nice
19`), as in tests.bench_app: a user's browser runs on their own machine. Then the pages load only as fast as
training leaves CPU idle; `--server-cpus 1` instead pins the server to one CPU and the browser to the others, a
one-CPU server with its users' browsers elsewhere. The further page's load is split into `websocket_open` (the
browser has loaded Streamlit's frontend), `script_finished` (the server has sent the whole page) and
`button_shown` (the browser has drawn it), each in seconds after navigating.
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
    _free_port,
    _wait_healthy,
    launch_niced_chromium,
)

LOG_NAME = "load_server.log"
ENDED = re.compile(r"Session \S+ ended .*?(\d+) training thread\(s\) left")
QUEUED = re.compile(r"Waiting for a training slot: (\d+)\w\w in line")
FIFTH_EPOCHS = 6  # the extra session's run: long enough to be cut short by its tab closing


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


class BrowserNice:
    """Lowers the CPU priority of the browser's processes (Playwright's children) and puts it back after.

    `nice=None`: leaves them as they are (browsers launched at their priority by launch_niced_chromium).
    """

    def __init__(self, nice: int | None):
        self.nice = nice
        self._before: dict[psutil.Process, int] = {}

    def apply(self) -> None:
        """Every browser process so far, renderers of new pages included."""
        if self.nice is None:
            return
        for child in psutil.Process().children(recursive=True):
            with contextlib.suppress(psutil.Error):
                if "chrom" in child.name().lower() and child.nice() < self.nice:
                    self._before.setdefault(child, child.nice())
                    child.nice(self.nice)

    def restore(self) -> None:
        for process, nice in self._before.items():
            with contextlib.suppress(psutil.Error):  # gone, or raising priority needs privileges
                process.nice(nice)
        self._before.clear()


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


def _open(browser, url: str, name: str, nice: BrowserNice) -> tuple[Session, dict]:
    """A new browser session on the Train page; with the seconds until its Train button showed, and before.

    `websocket_open`: the browser has loaded Streamlit's frontend and connects; `script_finished`: the server
    has run the page and sent all of it; `button_shown`: the browser has drawn it (the page load).
    """
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    page = context.new_page()
    marks: dict[str, float] = {}
    started = time.monotonic()

    def on_frame(payload: bytes | str) -> None:
        if "script_finished" not in marks and _finished_run(payload):
            marks["script_finished"] = round(time.monotonic() - started, 2)

    def on_websocket(socket) -> None:
        marks.setdefault("websocket_open", round(time.monotonic() - started, 2))
        socket.on("framereceived", on_frame)

    page.on("websocket", on_websocket)
    page.goto(url)
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=120_000)
    marks["button_shown"] = round(time.monotonic() - started, 2)
    nice.apply()
    return Session(name, context, page), marks


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
    nice: BrowserNice,
    timeout: float,
    settle_seconds: float,
) -> dict:
    """Sessions press Train at once, a further one loads meanwhile; then every tab closes. Its figures."""
    log = SCREENSHOTS / LOG_NAME
    ended_before = len(_ended_lines(log))
    opened = [_open(browser, f"{url}/?epochs={epochs}", f"session {i + 1}", nice) for i in range(sessions)]
    people = [session for session, _ in opened]
    loaded = sampler.now()
    started = time.monotonic()
    for person in people:
        person.page.get_by_role("button", name="Train", exact=True).click()
    # The further page loads while the first job trains and the others wait their turn.
    _poll(people, started, lambda: any(p.started_s is not None for p in people), timeout)
    waiting = [p for p in people if p.positions]
    if waiting:
        waiting[-1].page.screenshot(path=SCREENSHOTS / "train_queued.png")
    extra, extra_load = _open(browser, f"{url}/?epochs={FIFTH_EPOCHS}", "extra session", nice)
    extra.page.get_by_role("button", name="Train", exact=True).click()
    everyone = [*people, extra]
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
    time.sleep(settle_seconds)  # the later collections (ui.lifecycle) and the allocator settle
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
    }


def run(
    browser,
    sessions: int = 4,
    epochs: int = 1,
    max_jobs: int = 1,
    ttl: int = 10,
    nice: int | None = 19,
    timeout: float = 600,
    settle_seconds: float = 20,
    waves: int = 1,
    server_cpus: set[int] | None = None,
) -> dict:
    """The scenario `waves` times on one server of its own; every figure in one dict.

    `nice=None`: the browser's priority is left as it was launched.
    """
    browser_nice = BrowserNice(nice)
    with load_server(max_jobs, ttl, cpus=server_cpus) as (url, pid), Sampler(pid) as sampler:
        browser_nice.apply()
        idle = sampler.now()
        try:
            results = [
                _wave(browser, url, sampler, sessions, epochs, browser_nice, timeout, settle_seconds)
                for _ in range(waves)
            ]
        finally:
            browser_nice.restore()
        peaks = sampler.peaks()
    return {
        "sessions": sessions,
        "epochs": epochs,
        "max_jobs": max_jobs,
        "disconnected_session_ttl": ttl,
        "server_cpus": sorted(server_cpus) if server_cpus else "shared with the browser",
        "browser_cpus": sorted(os.sched_getaffinity(0)),
        "browser_nice": nice if nice is not None else "set at launch",
        "server_idle": idle,
        **peaks,
        "waves": results,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m tests.bench_load", description=__doc__)
    parser.add_argument("--sessions", type=int, default=4, help="sessions that press Train at once")
    parser.add_argument("--epochs", type=int, default=1, help="epochs of each of their jobs")
    parser.add_argument("--max-jobs", type=int, default=1, help="MNIST_LIVE_MAX_JOBS for the server")
    parser.add_argument("--ttl", type=int, default=10, help="server.disconnectedSessionTTL, seconds")
    parser.add_argument("--browser-nice", type=int, default=19, help="CPU niceness of the browser (0-19)")
    parser.add_argument("--settle", type=float, default=30, help="seconds to watch memory after the last release")
    parser.add_argument("--waves", type=int, default=1, help="times to run it on the same server (memory reuse)")
    parser.add_argument(
        "--server-cpus", type=int, default=0,
        help="give the server this many CPUs and the browser the others, as on a server with its users elsewhere",
    )  # fmt: skip
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    server_cpus = None
    if args.server_cpus:
        mine = sorted(os.sched_getaffinity(0))
        if not 0 < args.server_cpus < len(mine):
            raise SystemExit(f"--server-cpus must leave the browser at least one of the {len(mine)} CPUs")
        server_cpus = set(mine[: args.server_cpus])
        os.sched_setaffinity(0, mine[args.server_cpus :])  # the browser, launched below, inherits the rest

    if _chromium() is None:
        raise SystemExit("needs Chromium (Debian package 'chromium')")
    with sync_playwright() as playwright:
        browser = launch_niced_chromium(playwright, args.browser_nice)  # its every process inherits the priority
        try:
            result = run(browser, args.sessions, args.epochs, args.max_jobs, args.ttl, None,
                         settle_seconds=args.settle, waves=args.waves, server_cpus=server_cpus)  # fmt: skip
        finally:
            browser.close()
    result["browser_nice"] = args.browser_nice
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
