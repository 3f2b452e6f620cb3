import hashlib
import io
import os
import re
import tracemalloc
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from mnist_core.data import download
from mnist_core.data import mnist as data
from mnist_core.data.mnist import ENV_VAR, DatasetError, load_mnist, split_mnist
from tests.conftest import SHARED_MNIST, serve_on_loopback
from tools import fuzz_dataset as fuzz


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


# --- hostile dataset files (issue 15): crafted byte by byte, the loader told to expect small MNIST-like arrays ---


@pytest.fixture
def small_shapes(monkeypatch):
    """The loader expects 60 training and 10 test images, so crafted files stay small."""
    monkeypatch.setattr(data, "_EXPECTED", fuzz.SMALL)
    monkeypatch.setattr(data, "_cache", {})


def _npz(tmp_path, members) -> Path:
    path = tmp_path / "mnist.npz"
    path.write_bytes(fuzz.zip_bytes(members))
    return path


def _with_x_train(change) -> list:
    """The small valid file's entries with x_train.npy passed through `change`."""
    entries = fuzz.small_members()
    entries[0] = change(entries[0])
    return entries


def _small_x_train() -> bytes:
    return fuzz.npy_bytes(fuzz.small_arrays()["x_train"])


def _pickled() -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.array([{}] * 3, object), allow_pickle=True)
    return buffer.getvalue()


def _refused(path) -> tuple[str, float]:
    """The DatasetError for loading `path`, and the peak traced allocations (MB, NumPy's included) on the way."""
    tracemalloc.start()
    try:
        with pytest.raises(DatasetError) as refused:
            load_mnist(path)
        return str(refused.value), tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_the_small_crafted_file_loads(small_shapes, tmp_path):
    for method in (fuzz.STORED, fuzz.DEFLATED):
        mnist = load_mnist(_npz(tmp_path, fuzz.small_members(method)))
        assert mnist.test.x.tolist() == fuzz.small_arrays()["x_test"].tolist()
        data._cache.clear()


def test_a_fortran_order_array_loads_as_saved(small_shapes, tmp_path):
    x_test = fuzz.small_arrays()["x_test"]
    entries = fuzz.small_members()
    entries[2] = fuzz.member("x_test.npy", fuzz.npy_bytes(np.asfortranarray(x_test)))
    assert b"'fortran_order': True" in zlib.decompress(entries[2].data, -15)
    assert np.array_equal(load_mnist(_npz(tmp_path, entries)).test.x, x_test)


def test_a_file_far_larger_than_mnist_is_refused_unread(tmp_path):
    path = tmp_path / "mnist.npz"
    with open(path, "wb") as file:
        file.truncate(data.MAX_FILE_BYTES + 1)  # sparse: no disk used
    with pytest.raises(
        DatasetError, match=rf"{path} is 129 MB, over the 128 MB limit \(MNIST is 55 MB uncompressed\).*{ENV_VAR}"
    ):
        load_mnist(path)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda m: fuzz.member("x_train.npy", b"just some text\n"), "not a readable .npy array"),
        (lambda m: fuzz.member("x_train.npy", b""), "not a readable .npy array"),
        (lambda m: replace(m, name=b"x_train"), r"is missing \(found: 'x_train'"),
        (lambda m: replace(m, flags=0x1), "encrypted"),
        (lambda m: replace(m, flags=0x41), "encrypted"),
        (lambda m: replace(m, method=99), "compression method 99"),
        (lambda m: replace(m, method=14), "compression method 14"),
        (lambda m: replace(m, data=b"\xff" + m.data[1:]), "not a readable .npy array"),  # CRC of the true bytes
        (lambda m: fuzz.member("x_train.npy", _pickled()), "dtype object"),
    ],
    ids=[
        "plain text",
        "empty",
        "no .npy",
        "encrypted",
        "strong encryption",
        "method 99",
        "lzma",
        "corrupt deflate",
        "pickled objects",
    ],
)
def test_members_that_are_not_what_they_claim_are_named(small_shapes, tmp_path, change, problem):
    path = _npz(tmp_path, _with_x_train(change))
    with pytest.raises(DatasetError, match=f"{path}.*'x_train(\\.npy)?'.*{problem}.*{ENV_VAR}"):
        load_mnist(path)


def test_a_single_npy_file_instead_of_an_npz_is_named(small_shapes, tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(_small_x_train())
    with pytest.raises(DatasetError, match=f"{path} is a single .npy array, not an .npz.*{ENV_VAR}"):
        load_mnist(path)


def test_a_path_with_a_nul_byte_is_refused(tmp_path):
    with pytest.raises(DatasetError, match=f"NUL byte.*{ENV_VAR}"):
        load_mnist(str(tmp_path / "mn\x00ist.npz"))
    assert not data.is_loaded(str(tmp_path / "mn\x00ist.npz"))


@pytest.mark.parametrize(
    ("header", "body", "problem"),
    [
        (fuzz.npy_header((10**13,)), bytes(100), r"shape \(10000000000000,\), expected \(60, 28, 28\)"),
        (fuzz.npy_header((2**31, 2**31, 2**31)), b"", "shape"),
        (fuzz.npy_header((60, 28, 28)), bytes(100), "holds 228 bytes; its .npy header declares 47,168"),
    ],
    ids=["10^13 elements", "2^93 elements", "MNIST's shape, 100 bytes"],
)
def test_declared_sizes_beyond_the_file_are_refused_before_allocating(small_shapes, tmp_path, header, body, problem):
    path = _npz(tmp_path, _with_x_train(lambda m: fuzz.member("x_train.npy", header + body)))
    message, peak = _refused(path)
    assert re.search(f"{path}.*'x_train.npy'.*{problem}", message) and peak < 4, (message, peak)


def test_extra_members_are_ignored_unread(small_shapes, tmp_path):
    extras = [
        fuzz.member("extra.npy", fuzz.npy_header((10**13,)) + bytes(100)),
        fuzz.bomb_member("bomb.npy", fuzz.npy_header((2**28,)), 2**28),
        fuzz.member("notes.txt", b"plain text"),
        replace(fuzz.member("secret.npy", b"x"), flags=0x1, method=99),
    ]
    path = _npz(tmp_path, fuzz.small_members() + extras)
    tracemalloc.start()
    try:
        mnist = load_mnist(path)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert mnist.train.y.tolist() == fuzz.small_arrays()["y_train"].tolist() and peak < 4, peak


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "beyond its header"])
def test_a_compressed_bomb_is_refused_before_decompressing(small_shapes, tmp_path, declared):
    # A valid .npy of 256 MiB of zeros, or MNIST's array followed by 256 MiB of zeros: 1,000 to 1 in the zip.
    start = fuzz.npy_header((2**28,)) if declared else _small_x_train()
    path = _npz(tmp_path, _with_x_train(lambda m: fuzz.bomb_member("x_train.npy", start, 2**28)))
    assert path.stat().st_size < 400_000
    message, peak = _refused(path)
    assert re.search(f"{path}.*'x_train.npy'.*(shape|declares 47,168)", message) and peak < 4, (message, peak)


def test_a_zip_directory_far_larger_than_mnists_is_refused_before_it_is_read(small_shapes, tmp_path):
    path = _npz(tmp_path, fuzz.small_members() + [fuzz.member(f"{i}", b"") for i in range(60_000)])
    message, peak = _refused(path)
    assert re.search(f"{path}.*directory.*{ENV_VAR}", message) and peak < 4, (message, peak)


def test_the_zip_end_record_reader_still_exists_and_reads_what_zipfile_trusts(tmp_path):
    import io
    import zipfile

    from mnist_core.compat.zipfile_workarounds import declared_directory

    assert hasattr(zipfile, "_EndRecData"), "this Python's zipfile has no _EndRecData: zip directories go unchecked"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.npy", b"x")
        archive.writestr("b.npy", b"y")
    entries, size = declared_directory(buffer)
    assert entries == 2 and size == sum(46 + len(i.filename) for i in zipfile.ZipFile(buffer).infolist())
    assert declared_directory(io.BytesIO(b"not a zip at all")) is None
