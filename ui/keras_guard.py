"""Stop Streamlit from clearing the Keras session after every script run."""

from __future__ import annotations

import logging
import sys

from streamlit.runtime.scriptrunner import script_runner

_log = logging.getLogger(__name__)


def _close_matplotlib_only() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def keep_keras_session() -> None:
    """Let training threads keep their Keras session across script runs.

    After every script run, fragment reruns included, Streamlit calls keras.backend.clear_session(),
    which runs gc.collect() and empties TensorFlow's kernel cache. With a job training in another thread
    and the live view redrawing each second, that made in-app training 7-10x slower than headless.
    """
    if not hasattr(script_runner, "_clean_problem_modules"):
        _log.warning("Streamlit no longer has _clean_problem_modules; the Keras session guard is inactive.")
        return
    script_runner._clean_problem_modules = _close_matplotlib_only
