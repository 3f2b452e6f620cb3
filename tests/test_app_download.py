"""The first start on a new machine: MNIST is downloaded (as Keras does) and the page works."""

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_app import APP, _navigation_pages_only  # noqa: F401 - the autouse fixture


@pytest.mark.timeout(300)
def test_the_train_page_downloads_mnist_when_no_file_is_given(served_mnist, tmp_path):
    source = served_mnist
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert not at.error
    assert source.requests == 1
    assert (tmp_path / "keras" / "datasets" / "mnist.npz").is_file()
    assert not next(b for b in at.button if b.label == "Train").disabled
    at.run()
    assert source.requests == 1  # once per server
