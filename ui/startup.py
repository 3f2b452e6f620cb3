"""What the server does once, at its first page load: warm TensorFlow up, and hand the interpreter over sooner.

Python lets a thread that wants the interpreter lock wait up to its switch interval (5 ms by default) each time
another thread holds it. The server's web thread wants it several times for each of the ~90 files of a page,
while a job's thread holds it for long stretches (tracing a new model's train step: ~1.5 s of pure Python) and
the open pages' live redraws for shorter ones. At 0.5 ms a page that loaded while four sessions trained or
queued drew its Train button in 2.09-2.35 s, against 2.48-3.16 s at 5 ms (tests.bench_load --fifth-cpu, 3 waves
each); in-app training was ~7% slower (tests.bench_app: 9,274-9,658 against 10,147-10,425 examples/s), still
above issue 2's 80% of headless. Shortened only during job start-ups, the page loads stayed at 2.91-2.97 s.
"""

from __future__ import annotations

import sys

from streamlit.logger import get_logger

from mnist_core.warmup import start_tensorflow_import

READY_MESSAGE = "TensorFlow imported and warmed up in %.1f s"
SWITCH_SECONDS = 0.0005
_log = get_logger(__name__)


def _report(seconds: float, failure: Exception | None) -> None:
    if failure is None:
        _log.info(READY_MESSAGE, seconds)
    else:
        _log.warning("TensorFlow warm-up failed after %.1f s (the first job pays the set-up): %r", seconds, failure)


def start_server_once() -> bool:
    """Shorten the switch interval and start TensorFlow's warm-up; True if this call started the warm-up."""
    sys.setswitchinterval(SWITCH_SECONDS)
    return start_tensorflow_import(on_ready=_report)
