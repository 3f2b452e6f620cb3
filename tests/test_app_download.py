"""The first start on a new machine: MNIST is downloaded (as Keras does) and the page works."""

import hashlib

import pytest
from streamlit.testing.v1 import AppTest

from mnist_core import data, download
from mnist_core.data import ENV_VAR
from tests.conftest import SHARED_MNIST
from tests.test_app import APP, _navigation_pages_only  # noqa: F401 - the autouse fixture
from tests.test_data import _serve


@pytest.mark.timeout(300)
def test_the_train_page_downloads_mnist_when_no_file_is_given(monkeypatch, tmp_path):
    source = _serve(monkeypatch, tmp_path, SHARED_MNIST.read_bytes())
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setattr(download, "MNIST_SHA256", hashlib.sha256(SHARED_MNIST.read_bytes()).hexdigest())
    monkeypatch.setattr(data, "_cache", {})
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert not at.error
    assert source.requests == 1
    assert (tmp_path / "keras" / "datasets" / "mnist.npz").is_file()
    assert not next(b for b in at.button if b.label == "Train").disabled
    at.run()
    assert source.requests == 1  # once per server
