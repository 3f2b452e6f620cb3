"""Import TensorFlow and run it once in the background at server start, before anyone presses Train.

The import lets the first page show without waiting for TensorFlow. The one short training run after it pays
TensorFlow's and Keras's one-time set-up (kernels, tracing machinery, thread pools): done in a user's first job,
that cost ~1 s more than in later jobs, all of it holding the interpreter lock, so it slowed every page the
server was sending meanwhile (tools.bench_load's first wave). Its model, traced, stays in the pool of
mnist_core.training.model_pool, so the first job with the default network and optimizer does not trace one either.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

_started = threading.Event()

WARMUP_IMAGES = 32
SPEED_BATCHES = 8  # timed default-size batches after the trace: this server's speed for the promise


def _import_tensorflow() -> None:
    import keras  # noqa: F401 - the import is the work: TensorFlow and Keras take seconds to load

    import mnist_core.model.crop  # noqa: F401 - registers the crop layer for loading saved models


def exercise_training(images: int = WARMUP_IMAGES, speed_batches: int = SPEED_BATCHES) -> None:
    """Train the default network on blank images (a few batches, then `speed_batches` timed ones of the default
    size for the server's speed), predict with it, and keep it in the pool."""
    from mnist_core.model.architecture import PRESETS
    from mnist_core.model.predict import CropPredictor
    from mnist_core.runtime.speed import server_speed
    from mnist_core.settings import TrainSettings
    from mnist_core.training.model_pool import get_pool, new_training_model

    settings = TrainSettings()
    held = new_training_model(PRESETS[settings.preset], settings)
    x, y = np.zeros((images, 28, 28), np.uint8), np.zeros(images, np.uint8)
    held.model.train_batches(x.reshape(2, images // 2, 28, 28), y.reshape(2, images // 2))
    if speed_batches:
        server_speed().record(_examples_per_second(held.model, settings.batch_size, speed_batches), "the warm-up")
    held.traced_batches = 2  # the engine then counts the first job's first batch as training, not tracing
    CropPredictor(held.model).predict(x[:2], k=settings.crops, seed=0)
    get_pool().give_back(held)  # traced: the first job with the default network and optimizer takes it


def _examples_per_second(model, batch_size: int, count: int) -> float:
    n = batch_size * count
    x, y = np.zeros((count, batch_size, 28, 28), np.uint8), np.zeros((count, batch_size), np.uint8)
    model.train_batches(x[:1], y[:1])  # its first run at this size
    started = time.perf_counter()
    model.train_batches(x, y)
    return n / (time.perf_counter() - started)


def _warm_up(on_ready: Callable[[float, Exception | None], None] | None) -> None:
    started, failure = time.perf_counter(), None
    try:
        _import_tensorflow()
        exercise_training()
    except Exception as exc:  # noqa: BLE001 - a failed warm-up only means the first job pays the set-up
        failure = exc
    if on_ready is not None:
        on_ready(time.perf_counter() - started, failure)


def start_tensorflow_import(on_ready: Callable[[float, Exception | None], None] | None = None) -> bool:
    """Import TensorFlow and warm it up in a daemon thread, once per process; True if this call started it.

    `on_ready(seconds, failure)` is called from that thread when it is done (`failure` None if all went well).
    """
    if _started.is_set():
        return False
    _started.set()
    threading.Thread(target=_warm_up, args=(on_ready,), name="tensorflow-import", daemon=True).start()
    return True
