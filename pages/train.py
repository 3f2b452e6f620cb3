"""The Train page: start, steer and watch the session's training job."""

from __future__ import annotations

import streamlit as st

from mnist_core.charts.stream import stream_html
from mnist_core.runtime.queue import get_queue
from mnist_core.runtime.speed import server_speed
from mnist_core.settings import CHOICES, FIELDS, Applies
from mnist_core.training.promise import measured_default_run, promise
from mnist_core.training.run_state import RunView
from ui.lessons import task_box
from ui.network import layers_for
from ui.queue_note import limit_note, show_waiting, show_where
from ui.run_controls import pause_and_stop
from ui.session import DATA_FAILED, JOB, NOTE, current_job, dataset, metrics_file, model_file, start_job, stop_job
from ui.sidebar import SETTINGS
from ui.step_view import step_button, step_note, step_report
from ui.streamlit_workarounds import through_entrypoint

through_entrypoint()

STREAM_SHOWN = 30
_NAMES = {**{k: v.label.lower() for k, v in FIELDS.items()}, **CHOICES}

st.title("MNIST Live")
st.caption(
    "Train a small convolutional network on MNIST right here, in your own session, and watch it learn. "
    "Each training image is a random 24x24 crop of the 28x28 digit; predictions average several crops."
)
task_box()
settings = st.session_state.get(SETTINGS)
if settings is None:
    st.error("Some settings in the sidebar are invalid: fix them to train.", icon=":material/error:")


def _controls(job) -> RunView | None:
    """Train, Pause/Resume, Stop and Reset; returns the snapshot they were drawn for."""
    snap = job.view() if job else None
    alive = bool(job and job.alive)
    train, pause, step, stop, reset = st.columns(5)
    # MNIST is read after the button is drawn (its first read takes a second): see _page.
    unusable = settings is None or st.session_state.get(DATA_FAILED, False)
    pressed = train.button("Train", type="primary", disabled=alive or unusable, width="stretch")
    if pressed and (data := dataset()) is not None:
        start_job(settings, data, layers_for(settings))
        st.rerun()
    pause_and_stop(job, snap.status if snap else None, pause, stop)
    step_button(step, job, _start_paused)
    if reset.button("Reset", disabled=job is None, width="stretch", help="Discard this run and its metrics."):
        stop_job()
        st.rerun()
    return snap


def _start_paused() -> str | None:
    """A new run, paused before its first batch (Step with no run yet); or why there cannot be one."""
    if settings is None or (data := dataset()) is None:
        return "Fix the settings in the sidebar first: Step starts a run with them."
    start_job(settings, data, layers_for(settings), paused=True)
    return None


def _apply_changes(job) -> None:
    """Hand sidebar changes to a running job (ConvNetJS's "change" fields)."""
    if job is None or settings is None or not job.alive:
        return
    report = job.change(settings)
    groups = {Applies.NEXT_BATCH: report.change.next_batch, Applies.NEXT_EPOCH: report.change.next_epoch}
    parts = [
        f"{', '.join(_NAMES[k] for k in sorted(names))} from the {when}" for when, names in groups.items() if names
    ]
    if parts:
        st.session_state[NOTE] = "Applied to the running job: " + "; ".join(parts) + "."
    if NOTE in st.session_state:
        st.info(st.session_state[NOTE], icon=":material/tune:")
    if report.needs_reset:
        names = ", ".join(_NAMES.get(k, k) for k in report.needs_reset)
        st.warning(f"Changing {names} needs a new run: press **Reset**, then **Train**.", icon=":material/restart_alt:")


def _status(snap: RunView, job) -> None:
    show_where(job)
    if snap.status.waiting:
        show_waiting(
            job,
            snap.queue_position,
            snap.elapsed_seconds,
            "Training starts by itself when a job ahead finishes or stops; training one after another is faster "
            "than sharing the CPUs. **Stop** leaves the line.",
        )
        return
    text = snap.status.label
    done = snap.examples_seen / snap.total_examples if snap.total_examples else 0.0
    label = f"**{text}** · epoch {min(snap.epoch + 1, snap.epochs) if not snap.final else snap.epoch} of {snap.epochs}"
    label += f" · {snap.examples_seen:,} of {snap.total_examples:,} examples · {snap.elapsed_seconds:.0f} s"
    if snap.learning_rate is not None:
        label += f" · learning rate now {snap.learning_rate:.3g}"
    st.progress(min(done, 1.0), text=label)
    if snap.status.failed:
        st.error(snap.message, icon=":material/warning:")


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _num(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _tiles(snap: RunView) -> None:
    last = snap.last_epoch
    row1 = st.columns(5)
    row1[0].metric("Examples seen", f"{snap.examples_seen:,}")
    row1[1].metric("Training accuracy", _pct(snap.train_accuracy), help="Smoothed over recent batches.")
    row1[2].metric(
        "Validation accuracy",
        _pct(last and last.validation_accuracy),
        help="5,000 held-out images, centre crop, after each epoch.",
    )
    row1[3].metric(
        f"Test accuracy ({last.crops if last else 4} crops)",
        _pct(last and last.test_accuracy_crops),
        help="All 10,000 test images, softmax averaged over k random crops, after each epoch.",
    )
    row1[4].metric("Last 200 test digits", _pct(snap.recent_accuracy), help="The stream below.")
    row2 = st.columns(5)
    row2[0].metric("Loss", _num(snap.loss, ".4f"), help="Smoothed cross-entropy of recent batches.")
    row2[1].metric("L2 decay loss", _num(snap.l2_loss, ".5f"))
    row2[2].metric("Forward ms / example", _num(snap.ms_forward, ".3f"))
    row2[3].metric("Train step ms / example", _num(snap.ms_step, ".3f"), help="Forward and backward, per example.")
    row2[4].metric("Examples / s", _num(snap.examples_per_second, ",.0f"))


def _view(job, snap: RunView) -> None:
    # Altair and pandas load here, not at the top: the first page shows its Train button without waiting for them.
    from mnist_core.charts.training import (
        accuracy_frame,
        accuracy_spec,
        chart_crops,
        chart_own,
        loss_frame,
        loss_spec,
    )

    _status(snap, job)
    if snap.status.waiting:
        return  # nothing to chart yet
    _tiles(snap)
    step_report(snap)
    left, right = st.columns(2)
    left.vega_lite_chart(loss_frame(snap), loss_spec(), width="stretch")
    right.vega_lite_chart(accuracy_frame(snap), accuracy_spec(chart_crops(snap), chart_own(snap)), width="stretch")
    st.subheader("Test digits as the network sees them now")
    recent = list(snap.recent)[-STREAM_SHOWN:][::-1]
    if recent:
        st.caption(
            f"Newest first; top three classes with their probabilities: green where right, red where wrong. "
            f"Accuracy over the last {len(snap.recent)}: {_pct(snap.recent_accuracy)}."
        )
        st.html(stream_html(recent, dataset().test.x))
    else:
        st.caption("Test digits appear here as soon as training starts.")


def _continue(job) -> None:
    """A cluster run whose machine stopped: train on from its last published weights and metrics."""
    if st.button(
        "Continue training",
        type="primary",
        disabled=dataset() is None or job.weights()[1] is None,
        icon=":material/model_training:",
        help="A new run from this one's last published weights, for Epochs more epochs; its charts go on from "
        "this run's. Only the weights carry over: the optimizer's state starts afresh.",
    ):
        start_job(data=dataset(), layers=job.layers, **job.continuation())
        st.rerun()


def _downloads(job, snap: RunView) -> None:
    model_col, csv_col, _ = st.columns([1, 1, 2])
    model_col.download_button(
        "Download model (.keras)",
        data=model_file(job),
        file_name="mnist_live.keras",
        mime="application/octet-stream",
        on_click="ignore",
        disabled=snap.weights_version == 0,
        icon=":material/download:",
    )
    csv_col.download_button(
        "Download metrics (CSV)",
        data=metrics_file(job),
        file_name="mnist_live_metrics.csv",
        mime="text/csv",
        on_click="ignore",
        disabled=not snap.progress,
        icon=":material/table:",
    )


def _promise() -> None:
    """What pressing Train does, drawn with the first paint."""
    st.info(
        "Press **Train** to train the network in the sidebar on 55,000 MNIST digits. "
        + promise(measured_default_run(), server_speed().current()[0]),
        icon=":material/play_arrow:",
    )


def _page(job) -> None:
    limit_note(get_queue())
    controlled = _controls(job)
    step_note()
    if job is None:
        _promise()
    _apply_changes(job)
    known = st.session_state.get(DATA_FAILED, False)
    if (dataset() is None) != known:  # read once per server, after the first paint; it shows what is wrong
        st.rerun()  # the Train button above was drawn before the dataset failed or came back
    if job is None:
        return
    if job.lost:
        _continue(job)
    running = not job.view().final
    queued = controlled is not None and controlled.status.waiting

    @st.fragment(run_every=1.0 if running else None)
    def _live() -> None:
        # The job from the session's state, not from this closure or a page global: Streamlit keeps a session's
        # fragments (and the page namespace they see) until it drops the session, after ui.lifecycle has ended it.
        live = st.session_state.get(JOB)
        if live is None:
            return
        snap = live.view()
        if running and snap.final:
            st.rerun()  # the job ended: redraw the whole page once, statically
        if queued and not snap.status.waiting:
            st.rerun()  # it got its slot: redraw the controls too (Pause)
        _view(live, snap)

    _live()
    _downloads(job, job.view())


_page(current_job())
