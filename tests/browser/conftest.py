"""A real `streamlit run` server and headless Debian Chromium driven by Playwright."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "tests" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def launch_niced_chromium(playwright, nice: int, cpus: set[int] | None = None):
    """Debian's Chromium launched by Playwright, the whole browser weighed at CPU priority `nice` (0-19).

    `cpus`: the only CPUs every process of the browser may use. Set in the launcher, since the browser is
    started by Playwright's driver, not by this process, and would not inherit this process's CPU mask.

    Playwright starts Chromium in a session of its own, and Linux's autogroup scheduling (on by default) splits
    the CPUs between sessions before nice values count within one; Chromium, run as root, also sets its
    processes' nice values itself. So the priority goes to the browser's autogroup, which weighs all of its
    processes against the server's, and where autogroups are off, to the processes it starts with.
    """
    before = {process.pid for process in _chromium_processes()}  # browsers launched earlier keep theirs
    with tempfile.TemporaryDirectory() as folder:  # the launcher is needed only to start the browser
        wrapper = Path(folder) / "chromium-niced"
        pin = f"taskset -c {','.join(map(str, sorted(cpus)))} " if cpus else ""
        wrapper.write_text(f'#!/bin/sh\nexec {pin}nice -n {nice} {_chromium()} "$@"\n')
        wrapper.chmod(0o755)
        browser = playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_FLAGS)
    for process in _chromium_processes():
        with contextlib.suppress(OSError):  # no autogroups here: the launch priority stands
            if process.pid not in before:
                Path(f"/proc/{process.pid}/autogroup").write_text(str(nice))
                break  # one autogroup: the new browser's session
    return browser


def _chromium_processes() -> list[psutil.Process]:
    found = []
    for process in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "chrom" in process.name().lower():
                found.append(process)
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_server(log_name: str = "server.log"):
    """A `streamlit run` of the app on a free loopback port; yields its URL."""
    SCREENSHOTS.mkdir(exist_ok=True)
    port = _free_port()
    with open(SCREENSHOTS / log_name, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_app.py"), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1"],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(),
        )  # fmt: skip
        try:
            url = f"http://127.0.0.1:{port}"
            _wait_healthy(url, process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:  # a job's TensorFlow threads can hold up interpreter exit
                process.kill()
                process.wait(timeout=20)


def _wait_healthy(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail("streamlit server did not start; see tests/screenshots/*.log")


@pytest.fixture(scope="session")
def server_url():
    with running_server() as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    executable = _chromium()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required under CI (Debian package 'chromium').")
        pytest.skip("no Chromium on this machine (install Debian's 'chromium')")
    browser = _playwright().chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
    yield browser
    browser.close()


_playwright_started = []


def _playwright():
    """One Playwright per test process: a second sync one (another module's browser fixture) cannot start."""
    if not _playwright_started:
        from playwright.sync_api import sync_playwright

        _playwright_started.append(sync_playwright().start())
        atexit.register(_playwright_started[0].stop)
    return _playwright_started[0]


@pytest.fixture
def page(browser, server_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(server_url)
    page.get_by_role("button", name="Train", exact=True).wait_for(timeout=60_000)
    yield page
    context.close()
