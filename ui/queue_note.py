"""What a job or race waiting for a training slot shows: its place in line and the server's limit."""

from __future__ import annotations

import streamlit as st

from mnist_core.runtime.queue import JobQueue


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st."""
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def queue_text(position: int, limit: int) -> str:
    """The sentence for a job n-th in line; `position` 0 (holding a slot) reads as next in line."""
    return (
        f"Waiting for a training slot: {ordinal(max(position, 1))} in line (this server trains at most {limit} at once)"
    )


def show_queued(position: int, limit: int, seconds: float, note: str) -> None:
    """The status of work waiting in line: its place, the seconds waited so far, and what happens next."""
    st.progress(0.0, text=f"**{queue_text(position, limit)}** · {seconds:.0f} s")
    st.caption(note)


def limit_note(slots: JobQueue) -> None:
    """Say so when the configured limit (MNIST_LIVE_MAX_JOBS) was unusable and the default applies."""
    if slots.limit_note:
        st.warning(slots.limit_note, icon=":material/settings_alert:")


def show_waiting(run, position: int, seconds: float, note: str) -> None:
    """A run in line: for a training slot of this server, or (a cluster run, which has no queue) for a worker."""
    if run.queue is not None:
        show_queued(position, run.queue.limit, seconds, note)
        return
    place = f"{ordinal(max(position, 1))} in line among this server's runs"
    st.progress(0.0, text=f"**Waiting for a worker on the cluster: {place}** · {seconds:.0f} s")
    st.caption("Ray starts it as soon as a machine of the cluster has the CPUs it asks for. **Stop** leaves the line.")


def show_where(run) -> None:
    """The one line saying where the run trains, and why here if the configured cluster cannot be reached."""
    if run.notice:
        st.warning(run.notice, icon=":material/cloud_off:")
    st.caption(f"Trains {run.where}.")
