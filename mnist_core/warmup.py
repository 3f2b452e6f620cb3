"""Import TensorFlow in the background at server start, so the first page shows without waiting for it."""

from __future__ import annotations

import threading

_started = threading.Event()


def _import_tensorflow() -> None:
    import keras  # noqa: F401 - the import is the work: TensorFlow and Keras take seconds to load

    import mnist_core.crop  # noqa: F401 - registers the crop layer for loading saved models


def start_tensorflow_import() -> bool:
    """Start importing TensorFlow in a daemon thread, once per process; True if this call started it."""
    if _started.is_set():
        return False
    _started.set()
    threading.Thread(target=_import_tensorflow, name="tensorflow-import", daemon=True).start()
    return True
