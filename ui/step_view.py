"""The Train page's Step button and what the last Step changed."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core.charts.step import step_batch_html
from mnist_core.training.run_state import RunView, StepReport
from mnist_core.training.status import Status
from ui.session import JOB

STEP_NOTE = "step_note"  # a Step's message, kept across the rerun that follows starting a paused run
STEP_WAIT_SECONDS = 5.0  # a step of a traced model takes well under a second; a new run's first traces first
RACE = "race"  # the Compare page's race (pages/compare.py)
PENDING = (
    "The step is training its batch (a new run first builds its network and traces its training step, a few "
    "seconds): its report appears here when it is done."
)
STEP_HELP = (
    "Train exactly one batch, then pause again, and see what it changed. Before a run exists, Step starts one "
    "paused. While training runs, press Pause first."
)


def step_button(where, job, start_paused) -> None:
    """Draw Step in `where`; `start_paused()` starts a new paused run (no run yet), or returns a reason it cannot."""
    snap = job.view() if job is not None else None
    running = snap is not None and snap.status.training
    if not where.button("Step", disabled=running, width="stretch", help=STEP_HELP, icon=":material/skip_next:"):
        return
    from mnist_core.training.stepping import STILL_TRAINING, step_once  # TensorFlow: only once someone steps

    if job is None:
        problem = start_paused()
        if problem:
            st.session_state[STEP_NOTE] = problem
            return
        job = st.session_state.get(JOB)
    race = st.session_state.get(RACE)
    racing = race is not None and race.alive
    with st.spinner("Training one batch…"):
        _, message = step_once(job.state, STEP_WAIT_SECONDS)
    if racing and not message:
        message = "A race is running on the Compare page: this step shared the CPUs with it."
    if message and message != STILL_TRAINING:  # that one the report's place shows until the report comes
        st.session_state[STEP_NOTE] = message
    if snap is None:
        st.rerun()  # a new run: redraw the controls (Resume, Stop) for it


def step_note() -> None:
    """The last Step's message, once."""
    note = st.session_state.pop(STEP_NOTE, None)
    if note:
        st.info(note, icon=":material/skip_next:")


def step_report(snap: RunView) -> None:
    """What the last Step changed, while the run is paused."""
    if snap.step_pending and snap.status is Status.PAUSED:
        st.info(PENDING, icon=":material/hourglass_top:")
    report = snap.step
    if report is None or snap.status is not Status.PAUSED:
        return
    _show(report)


def _show(report: StepReport) -> None:
    st.subheader(f"Step {report.number}: one batch of {report.batch_size} examples")
    if report.diverged:
        st.error("This step made the loss blow up: the run diverged.", icon=":material/warning:")
    loss, acc, seen, updates = st.columns(4)
    loss.metric(
        "Batch loss after the step",
        f"{report.loss_after:.4f}",
        delta=f"{report.loss_after - report.loss_before:+.4f} (was {report.loss_before:.4f})",
        delta_color="inverse",
        help="Cross-entropy of the batch's centre crops with the weights before and after this one update.",
    )
    points = 100 * (report.accuracy_after - report.accuracy_before)
    acc.metric(
        "Batch accuracy after",
        f"{report.accuracy_after:.0%}",
        delta=f"{points:+.0f} points (was {report.accuracy_before:.0%})",
    )
    seen.metric("Examples seen", f"{report.examples_seen:,}")
    updates.metric(
        "Optimizer updates",
        f"{report.iterations_after:,}",
        delta=f"+{report.iterations_after - report.iterations_before}",
        delta_color="off",
    )
    st.markdown("**How far each layer's weights moved** (norm of the update relative to the weights' norm)")
    st.dataframe(
        pd.DataFrame(
            {
                "layer": [u.name for u in report.layers],
                "update / weights": [u.relative for u in report.layers],
                "|update|": [u.update_norm for u in report.layers],
                "|weights|": [u.weight_norm for u in report.layers],
            }
        ),
        hide_index=True,
        column_config={"update / weights": st.column_config.NumberColumn(format="%.2e")},
    )
    changed = int((report.before != report.after).sum())
    st.markdown(
        f"**The batch's first {len(report.labels)} images**: label, then the answer before → after the step "
        f"(green right, red wrong; {changed} answer(s) changed, outlined)."
    )
    st.html(step_batch_html(report.images, report.labels, report.before, report.after))
