"""The suite's own set-up on a fresh machine: MNIST through the app's loader when no file is given; the markers."""

import subprocess
import sys

import pytest

from mnist_core.data import mnist as data
from mnist_core.data.mnist import ENV_VAR
from tests.conftest import REPO, SHARED_MNIST, load_test_mnist, serve_on_loopback


def test_without_the_variable_the_fixture_downloads_through_the_apps_loader(served_mnist, tmp_path):
    source = served_mnist
    mnist = load_test_mnist()
    assert mnist.source == "keras"
    assert len(mnist.train) == 55_000 and len(mnist.validation) == 5_000 and len(mnist.test) == 10_000
    assert mnist.train.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert source.requests == 1
    assert (tmp_path / "keras" / "datasets" / "mnist.npz").read_bytes() == SHARED_MNIST.read_bytes()


def test_a_failed_download_fails_the_test_with_the_loaders_message(monkeypatch, tmp_path):
    serve_on_loopback(monkeypatch, tmp_path, b"<html>captive portal</html>")
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(data, "_cache", {})
    with pytest.raises(pytest.fail.Exception, match=f"MNIST could not be loaded: .*checksum mismatch.*{ENV_VAR}"):
        load_test_mnist()


def test_with_the_variable_the_fixture_reads_that_file(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing.npz"))
    monkeypatch.setattr(data, "_cache", {})
    with pytest.raises(pytest.fail.Exception, match="MNIST file not found: .*missing.npz"):
        load_test_mnist()


def test_the_fast_subset_leaves_out_every_browser_and_cluster_test():
    pytest.importorskip("ray", reason="without Ray the cluster tests are skipped at collection")

    def collected(marker: str) -> list[str]:
        command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "-m", marker]
        command += ["tests/browser/test_draw_browser.py", "tests/cluster/test_cluster_pages.py", "tests/test_queue.py"]
        result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
        return [line for line in result.stdout.splitlines() if "::" in line]

    cluster, fast = collected("cluster"), collected("not browser and not cluster")
    assert cluster and all(test.startswith("tests/cluster/") for test in cluster), cluster
    assert fast and all(test.startswith("tests/test_queue.py") for test in fast), fast
