import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from mnist_core import data, download
from mnist_core.data import ENV_VAR, DatasetError, load_mnist, split_mnist
from tests.conftest import SHARED_MNIST, serve_on_loopback


def _arrays():
    return {
        "x_train": np.zeros((60_000, 28, 28), np.uint8),
        "y_train": np.zeros(60_000, np.uint8),
        "x_test": np.zeros((10_000, 28, 28), np.uint8),
        "y_test": np.zeros(10_000, np.uint8),
    }


def test_real_mnist_matches_the_published_facts(mnist):
    train = np.concatenate([mnist.train.y, mnist.validation.y])
    assert (len(mnist.train), len(mnist.validation), len(mnist.test)) == (55_000, 5_000, 10_000)
    assert np.bincount(train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(mnist.test.y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.train.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    x_train = np.concatenate([mnist.train.x, mnist.validation.x])
    assert x_train.mean() == pytest.approx(33.318421, abs=1e-5)
    assert mnist.test.x.mean() == pytest.approx(33.791224, abs=1e-5)
    assert mnist.train.x.dtype == np.uint8 and not mnist.train.x.flags.writeable


def test_the_shared_file_is_the_documented_one():
    digest = hashlib.sha256(Path(os.environ[ENV_VAR]).read_bytes()).hexdigest()
    assert digest == "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"


def test_loaded_once_per_process(mnist):
    assert load_mnist() is mnist


def test_good_small_file_loads(tmp_path):
    arrays = _arrays()
    arrays["y_train"][:] = np.arange(60_000) % 10
    np.savez_compressed(tmp_path / "m.npz", **arrays)
    data = load_mnist(tmp_path / "m.npz")
    assert data.validation.y[:3].tolist() == [0, 1, 2]  # 55000 % 10 == 0
    assert data.source.endswith("m.npz")


def test_truncated_file_says_how_to_fix(tmp_path):
    np.savez_compressed(tmp_path / "m.npz", **_arrays())
    blob = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(DatasetError, match=f"unreadable or truncated.*{ENV_VAR}"):
        load_mnist(tmp_path / "cut.npz")


def test_not_a_zip_at_all(tmp_path):
    (tmp_path / "text.npz").write_text("hello")
    with pytest.raises(DatasetError, match="unreadable"):
        load_mnist(tmp_path / "text.npz")


def test_empty_file(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(b"")
    with pytest.raises(DatasetError, match="unreadable or truncated"):
        load_mnist(path)


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match=f"not found.*{ENV_VAR}"):
        load_mnist(tmp_path / "nope.npz")


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("x_train", np.zeros((60_000, 28, 27), np.uint8), "shape"),
        ("x_test", np.zeros((10_000, 28, 28), np.float32), "dtype"),
        ("y_test", np.full(10_000, 10, np.uint8), "label 10"),
        ("y_train", None, "no 'y_train'"),
    ],
)
def test_wrong_content_is_named(key, value, message):
    arrays = _arrays()
    if value is None:
        del arrays[key]
    else:
        arrays[key] = value
    with pytest.raises(DatasetError, match=message):
        split_mnist(arrays)


def test_without_the_variable_the_keras_download_is_used_with_progress(served_mnist, tmp_path):
    source = served_mnist
    seen = []
    mnist = load_mnist(progress=lambda done, total: seen.append((done, total)))
    assert mnist.train.y[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    size = SHARED_MNIST.stat().st_size
    assert seen[-1] == (size, size) and all(a[0] < b[0] for a, b in zip(seen, seen[1:]))
    assert (tmp_path / "keras" / "datasets" / "mnist.npz").read_bytes() == SHARED_MNIST.read_bytes()
    assert source.requests == 1
    download.ensure_mnist()  # present and intact: not fetched again
    assert source.requests == 1


def test_a_corrupt_download_is_refused_and_not_kept(monkeypatch, tmp_path):
    serve_on_loopback(monkeypatch, tmp_path, b"<html>captive portal</html>")
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(data, "_cache", {})
    with pytest.raises(DatasetError, match=f"checksum mismatch.*offline.*{ENV_VAR}"):
        load_mnist()
    assert not list((tmp_path / "keras" / "datasets").iterdir())  # no partial or wrong file left behind


def test_an_unreachable_server_says_how_to_work_offline(monkeypatch, tmp_path):
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(download, "MNIST_URL", "http://127.0.0.1:9/mnist.npz")  # the discard port: refused
    monkeypatch.setattr(data, "_cache", {})
    with pytest.raises(DatasetError, match=f"Could not download MNIST.*offline.*{ENV_VAR}"):
        load_mnist()
