"""Start TensorFlow's import and warm-up at the first page load, and log when the server is ready to train."""

from __future__ import annotations

from streamlit.logger import get_logger

from mnist_core.training.warmup import start_tensorflow_import

READY_MESSAGE = "TensorFlow imported and warmed up in %.1f s"
_log = get_logger(__name__)


def _report(seconds: float, failure: Exception | None) -> None:
    if failure is None:
        _log.info(READY_MESSAGE, seconds)
    else:
        _log.warning("TensorFlow warm-up failed after %.1f s (the first job pays the set-up): %r", seconds, failure)


def start_warm_up() -> bool:
    """Start it once per process (later calls do nothing); True if this call started it."""
    return start_tensorflow_import(on_ready=_report)
