"""Every place the app reaches into Streamlit's internals, in one module, each checked against the installed version.

Verified on Streamlit 1.67 (`VERIFIED`). `INTERNALS` names what each workaround relies on;
tests/test_library_workarounds.py fails naming what an installed Streamlit no longer has, or a version outside that
range, so that an upgrade cannot switch a workaround off silently.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from mnist_core.compat.internals import missing_internals as internals_missing_from

_log = logging.getLogger(__name__)

VERIFIED = {"streamlit": ("1.67", "1.68")}
# workaround -> (module, attribute path) it needs
INTERNALS: dict[str, tuple[str, str]] = {
    "keep_keras_session": ("streamlit.runtime.scriptrunner.script_runner", "_clean_problem_modules"),
    "through_entrypoint": ("streamlit.runtime.pages_manager", "PagesManager.uses_pages_directory"),
    "session_is_active": ("streamlit.runtime.runtime", "Runtime.is_active_session"),
    "session_closer": ("streamlit.runtime.runtime", "Runtime.close_session"),
    "session_keys": ("streamlit.runtime.state.safe_session_state", "SafeSessionState.filtered_state"),
    "current_session": ("streamlit.runtime.scriptrunner", "get_script_run_ctx"),
}


def missing_internals() -> list[str]:
    """The internals in INTERNALS that the installed Streamlit lacks, as 'workaround: module.attribute'."""
    return internals_missing_from(INTERNALS)


def _close_matplotlib_only() -> None:
    if "matplotlib.pyplot" in sys.modules:
        sys.modules["matplotlib.pyplot"].close("all")


def keep_keras_session() -> None:
    """Let training threads keep their Keras session across script runs.

    After every script run, fragment reruns included, Streamlit calls keras.backend.clear_session(),
    which runs gc.collect() and empties TensorFlow's kernel cache. With a job training in another thread
    and the live view redrawing each second, that made in-app training 7-10x slower than headless.
    """
    from streamlit.runtime.scriptrunner import script_runner

    if not hasattr(script_runner, "_clean_problem_modules"):
        _log.warning("Streamlit no longer has _clean_problem_modules; the Keras session guard is inactive.")
        return
    script_runner._clean_problem_modules = _close_matplotlib_only


def through_entrypoint() -> None:
    """Rerun through streamlit_app.py when Streamlit ran this page on its own.

    Until some session has called st.navigation, a server that sees a `pages/` folder uses the legacy
    multipage mode: a deep link such as /draw on a fresh server (and every AppTest rerun) executes the
    page file alone, without the sidebar. Switching that mode off and rerunning keeps the requested page.
    """
    import streamlit as st
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


def session_is_active(session_id: str) -> bool:
    """Whether the session has a live connection; True without a runtime (AppTest: nothing disconnects)."""
    from streamlit import runtime

    return not runtime.exists() or runtime.get_instance().is_active_session(session_id)


def session_closer() -> Callable[[str], None] | None:
    """Runtime.close_session (it must run on the server's event loop), or None without a runtime."""
    from streamlit import runtime

    return runtime.get_instance().close_session if runtime.exists() else None


def session_keys(state: Any) -> list[str]:
    """The user keys of a session's SafeSessionState (widgets' internal keys left out)."""
    return list(state.filtered_state)


def current_session() -> tuple[str, Any]:
    """The running script's session id and its SafeSessionState (usable from other threads)."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id, ctx.session_state
