"""Download MNIST as Keras does (same file, checksum and cache path), reporting progress on the way."""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
import urllib.request
from collections.abc import Callable
from pathlib import Path

# keras.datasets.mnist.load_data()'s source and checksum: a file fetched here is one Keras accepts, and back.
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
MNIST_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
MAX_BYTES = 64 * 2**20  # the real file is 11.5 MB; a server sending more is not sending MNIST
CHUNK = 256 * 1024

Progress = Callable[[int, int | None], None]  # (bytes so far, total bytes or None if unknown)
_lock = threading.Lock()  # one download per process: other sessions wait for it, then find the file


class DownloadError(RuntimeError):
    """The download failed or did not give the expected file; the message says what to do."""


def keras_mnist_path() -> Path:
    """Where Keras keeps its MNIST download: $KERAS_HOME/datasets/mnist.npz, by default ~/.keras/datasets."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


def ensure_mnist(progress: Progress | None = None, url: str | None = None, sha256: str | None = None) -> Path:
    """The path of Keras's MNIST file, downloading and checking it first if it is missing or corrupt."""
    url, sha256 = url or MNIST_URL, sha256 or MNIST_SHA256
    target = keras_mnist_path()
    with _lock:
        if target.is_file() and _sha256(target) == sha256:
            return target
        _download(url, target, sha256, progress)
    return target


def _download(url: str, target: Path, sha256: str, progress: Progress | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".part", delete=False) as part:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - a fixed https URL
                total = int(response.headers.get("Content-Length") or 0) or None
                done = 0
                while chunk := response.read(CHUNK):
                    done += len(chunk)
                    if done > MAX_BYTES:
                        raise DownloadError(f"{url} sent more than {MAX_BYTES // 2**20} MB: that is not MNIST.")
                    digest.update(chunk)
                    part.write(chunk)
                    if progress:
                        progress(done, total)
        except (OSError, ValueError) as exc:
            _remove(part.name)
            raise DownloadError(f"Could not download MNIST from {url} ({exc}).") from exc
        except DownloadError:
            _remove(part.name)
            raise
    if digest.hexdigest() != sha256:
        _remove(part.name)
        raise DownloadError(f"The file downloaded from {url} is not the expected MNIST (checksum mismatch).")
    os.replace(part.name, target)  # atomic: a reader sees no file or the whole file


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _remove(name: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(name)
