"""Shared fixtures: the real MNIST (from $MNIST_NPZ_PATH, the shared copy next to the repo, or the app's own download)
and small slices of it; the markers of the test directories."""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
import time
from pathlib import Path

import pytest

# Tests run jobs one after another; a limit above the default (1 on 2 CPUs) keeps a test whose job is still
# finishing from queueing the next test's job. The queue itself is tested with its own JobQueue.
os.environ.setdefault("MNIST_LIVE_MAX_JOBS", "4")
# Runs the tests finish are saved (mnist_core.store): into a throwaway file, never the user's own run history.
os.environ.setdefault("MNIST_LIVE_RUNS", os.path.join(tempfile.mkdtemp(prefix="mnist-live-test-runs-"), "runs.sqlite"))

import mnist_core  # noqa: F401 - sets TensorFlow's environment before anything imports it
from mnist_core.data import download
from mnist_core.data import mnist as data
from mnist_core.data.mnist import ENV_VAR, DatasetError, Mnist, Split, load_mnist

REPO = Path(__file__).resolve().parent.parent
SHARED_MNIST = REPO.parent / "shared" / "data" / "mnist.npz"

if not os.environ.get(ENV_VAR) and SHARED_MNIST.is_file():
    os.environ[ENV_VAR] = str(SHARED_MNIST)


# The directories whose tests need more than Python: `-m "not browser and not cluster"` leaves them out.
DIRECTORY_MARKERS = ("browser", "cluster")  # each the name of a directory under tests/ and of its marker


def pytest_collection_modifyitems(config, items):
    """Mark every test under tests/browser and tests/cluster by its directory, so `-m` can select them."""
    tests = Path(__file__).resolve().parent
    for item in items:
        path = item.path.resolve()
        directory = path.relative_to(tests).parts[0] if path.is_relative_to(tests) else None
        if directory in DIRECTORY_MARKERS:
            item.add_marker(directory)


def load_test_mnist() -> Mnist:
    """MNIST through the app's own loader: $MNIST_NPZ_PATH if set, else Keras's download and cache.

    A failure fails the test with the loader's own message, which says what to fix.
    """
    try:
        return load_mnist()
    except DatasetError as exc:
        pytest.fail(f"MNIST could not be loaded: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def mnist() -> Mnist:
    return load_test_mnist()


def small(data: Mnist, n_train: int, n_test: int = 500) -> Mnist:
    """The first n_train training and n_test test images, for quick jobs."""
    return Mnist(
        train=Split(data.train.x[:n_train], data.train.y[:n_train]),
        validation=Split(data.validation.x[:n_test], data.validation.y[:n_test]),
        test=Split(data.test.x[:n_test], data.test.y[:n_test]),
        source="slice",
    )


@pytest.fixture(scope="session")
def tiny(mnist) -> Mnist:
    return small(mnist, 2000)


def wait_until(predicate, timeout: float = 120.0, step: float = 0.05) -> bool:
    """Poll `predicate` until it is true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    raise AssertionError("condition not reached in time")


def counted(calls: dict[str, int], name: str, function):
    """`function`, adding each call to calls[name] (a page must do some work once per input, not per rerun)."""

    def wrapper(*args, **kwargs):
        calls[name] += 1
        return function(*args, **kwargs)

    return wrapper


@pytest.fixture
def served_mnist(monkeypatch, tmp_path):
    """The shared MNIST file served on loopback as the download, Keras's cache in tmp_path, no file given."""
    source = serve_on_loopback(monkeypatch, tmp_path, SHARED_MNIST.read_bytes())
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(download, "MNIST_SHA256", hashlib.sha256(SHARED_MNIST.read_bytes()).hexdigest())
    monkeypatch.setattr(data, "_cache", {})
    return source


def serve_on_loopback(monkeypatch, tmp_path, body: bytes):
    """Serve `body` on loopback as the MNIST URL; the returned object counts requests."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        requests = 0

        def do_GET(self):  # noqa: N802 - the http.server API
            Handler.requests += 1
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(download, "MNIST_URL", f"http://127.0.0.1:{server.server_port}/mnist.npz")
    return Handler


def pytest_sessionfinish(session, exitstatus):
    """Join the threads that may be inside TensorFlow: one still running there when Python exits aborts the process.

    An AppTest of a page starts the server's warm-up (import, one short run) and the run can outlast the test.
    """
    for thread in threading.enumerate():
        if thread.name == "tensorflow-import" or thread.name.startswith("mnist-live-"):
            thread.join(timeout=120)


# --- the run store on both databases: one PostgreSQL server for the session, a fresh database per test ---


@pytest.fixture(scope="session")
def pg_server():
    from tests.postgres import postgres_server

    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A store URL: an SQLite file, then a fresh database on the session's PostgreSQL server."""
    from mnist_core.store import store_url
    from mnist_core.store.config import ENV_VAR, sqlite_url
    from tests.postgres import fresh_database

    if request.param == "sqlite":
        return sqlite_url(tmp_path / "runs.sqlite")
    return store_url({ENV_VAR: fresh_database(request.getfixturevalue("pg_server"))})


@pytest.fixture
def store(url):
    from mnist_core.store import RunStore

    held = RunStore(url, retry_seconds=0)
    yield held
    held.dispose()


@pytest.fixture
def runs_file(monkeypatch, tmp_path) -> Path:
    """The app's run store setting names an SQLite file in this test's folder (not there until the app makes it)."""
    from mnist_core.store.config import ENV_VAR as STORE_VAR

    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv(STORE_VAR, str(path))
    return path


BROKEN_STORE = b"not a database " * 100  # what the broken_store fixture's file holds, and must still hold after


@pytest.fixture
def broken_store(monkeypatch, tmp_path) -> Path:
    """The app's run store setting names a file that is not a database."""
    from mnist_core.store.config import ENV_VAR as STORE_VAR

    broken = tmp_path / "runs.sqlite"
    broken.write_bytes(BROKEN_STORE)
    monkeypatch.setenv(STORE_VAR, str(broken))
    return broken
