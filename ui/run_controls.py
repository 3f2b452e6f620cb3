"""How a page starts the session's run (a job or a race) and draws its Pause/Resume and Stop: the same everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from mnist_core.training.status import Status
from ui.lifecycle import session_owner


def start_run(role: str, run: Any, save: Callable[[Any], None], *, paused: bool = False) -> None:
    """Start `run` as the session's `role` ("job", "race"): saved to the run store when it ends, stopped with the
    session (ui.lifecycle), kept in session state. `paused`: it waits before its first batch (Step)."""
    save(run)
    session_owner().adopt(role, run)
    if paused:
        run.pause()
    run.start()
    st.session_state[role] = run


def pause_and_stop(run: Any, status: Status | None, pause_where, stop_where, key: str | None = None) -> None:
    """Pause/Resume and Stop for `run` (None: none yet), drawn for its `status`; a press acts and redraws the page.

    A queued run has nothing to pause yet, and Stop takes it out of the line at once.
    """
    alive = bool(run is not None and run.alive)
    paused = status is Status.PAUSED
    pausable = alive and status is not None and status.can_pause
    label = "Resume" if paused else "Pause"
    if pause_where.button(label, disabled=not pausable, width="stretch", key=key and f"{key}_pause"):
        run.resume() if paused else run.pause()
        st.rerun()
    if stop_where.button("Stop", disabled=not alive, width="stretch", key=key and f"{key}_stop"):
        run.stop()
        st.rerun()
