"""The sidebar's Snapshots panel: save the session's network to a file; load one to continue training or to draw.

mnist_core.snapshots imports Keras, so it is imported only once a job exists or a file is uploaded (cold start).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import streamlit as st

from mnist_core.data.mnist import Mnist
from mnist_core.settings import RUN_FIELDS, TrainSettings
from ui.models import DRAWING
from ui.network import CUSTOM, apply_network
from ui.query_settings import widget_state
from ui.session import current_job, dataset, start_job, stop_job

if TYPE_CHECKING:
    from mnist_core.snapshots import LoadedSnapshot
    from mnist_core.training.job import TrainingJob

PANEL = "snapshot_panel"  # the expander's widget state
PANEL_OPEN = "snapshot_panel_open"  # its last state, kept: Streamlit drops the widget's at a switch of page
UPLOADER = "snapshot_upload"
LOADED = "snapshot_loaded"  # (file id, LoadedSnapshot or error message) of the current upload
CONFIRM = "snapshot_replace"  # the checkbox that allows replacing the session's job
_GO_TRAIN = "snapshot_go_train"
UPLOAD_LIMIT_MB = 50  # mnist_core.snapshots.MAX_SNAPSHOT_BYTES, which loading enforces; here the browser refuses early
_LOG = logging.getLogger(__name__)


def snapshot_panel() -> None:
    """The Snapshots expander at the bottom of the sidebar (call after sidebar_settings)."""
    if st.session_state.pop(_GO_TRAIN, False):
        st.switch_page("pages/train.py")  # a continued run is watched there
    # Drawn only while open: the panel costs nothing otherwise, and a page's own file input stays the only one.
    # (Closing it drops an uploaded file; a snapshot chosen for drawing stays in use.)
    panel = st.sidebar.expander(
        "Snapshots",
        expanded=bool(st.session_state.get(PANEL_OPEN)),
        icon=":material/save:",
        key=PANEL,
        on_change=_remember_panel,
    )
    if not panel.open:
        return
    with panel:
        st.caption(
            "A snapshot is one file with your network, its settings and its charts. Load one to train it further "
            "or to draw with it."
        )
        _save_button(current_job())
        _load()


def _remember_panel() -> None:
    st.session_state[PANEL_OPEN] = bool(st.session_state.get(PANEL))


def _save_button(job: TrainingJob | None) -> None:
    ready = job is not None and job.view().weights_version > 0
    if ready:
        from mnist_core.snapshots import snapshot_filename

        name = snapshot_filename(job.settings)
    st.download_button(
        "Save snapshot",
        # Built only when clicked, from the weights published at that moment (the job may be training).
        data=(lambda: _snapshot_bytes(job)) if ready else b"",
        file_name=name if ready else "mnist-live.mnistlive.zip",
        mime="application/zip",
        on_click="ignore",
        disabled=not ready,
        icon=":material/download:",
        width="stretch",
        help="Your network's weights, layers and settings and its training metrics, in one file."
        if ready
        else "Train first: there is no network of yours to save yet.",
    )


def _snapshot_bytes(job: TrainingJob) -> bytes:
    """The snapshot file of `job` now (runs outside the script thread: no st.* here)."""
    from mnist_core.snapshots import save_snapshot

    _, weights = job.weights()
    return save_snapshot(weights, job.layers, job.settings, job.view())


def _load() -> None:
    upload = st.file_uploader(
        "Load a snapshot",
        type=["zip"],
        key=UPLOADER,
        max_upload_size=UPLOAD_LIMIT_MB,
        help="A .mnistlive.zip saved by MNIST Live. It is checked before use; no code in it ever runs.",
    )
    if upload is None:
        st.session_state.pop(LOADED, None)
        return
    loaded = _loaded(upload)
    if isinstance(loaded, str):
        st.error(f"**{upload.name}** could not be loaded: {loaded}", icon=":material/error:")
        return
    st.info(loaded.description, icon=":material/inventory_2:")
    _actions(loaded)


def _loaded(upload: Any) -> LoadedSnapshot | str:
    """The upload's LoadedSnapshot, or what is wrong with it; checked once per file, not on every rerun."""
    held = st.session_state.get(LOADED)
    if held is None or held[0] != upload.file_id:
        from mnist_core.snapshots import SnapshotError, load_snapshot

        try:
            result: LoadedSnapshot | str = load_snapshot(upload.getvalue())
        except SnapshotError as exc:
            result = str(exc)
        except Exception:  # noqa: BLE001 - a file must never produce a traceback in the page; logged for us
            _LOG.exception("loading an uploaded snapshot failed")
            result = "it could not be read (an unexpected error; details are in the server log)."
        held = (upload.file_id, result)
        st.session_state[LOADED] = held
    return held[1]


def _actions(loaded: LoadedSnapshot) -> None:
    job = current_job()
    allowed = True
    if job is not None:
        state = "is training" if job.alive else "has finished"
        st.warning(
            f"Your session's network {state}. Both buttons below replace it and its metrics (save it first to "
            "keep it).",
            icon=":material/warning:",
        )
        allowed = st.checkbox("Replace my current network", key=CONFIRM)
    data = dataset()
    st.button(
        "Continue training",
        on_click=_continue,
        args=(loaded, data),
        disabled=not allowed or data is None,
        icon=":material/model_training:",
        width="stretch",
        help="Train this network further with its settings (now in the sidebar), for Epochs more epochs; its "
        "charts go on from the snapshot's. Only the weights carry over: the optimizer's state starts afresh.",
    )
    st.button(
        "Use for drawing",
        on_click=_use_for_drawing,
        args=(loaded,),
        disabled=not allowed,
        icon=":material/draw:",
        width="stretch",
        help="The Draw and Inside pages answer with this network whenever your session has no network of its "
        "own (while you train one, that one answers).",
    )
    if st.session_state.get(DRAWING) is loaded and job is None:
        st.caption("The Draw and Inside pages use this snapshot.")


def _continue(loaded: LoadedSnapshot, data: Mnist) -> None:
    """Button callback (before the sidebar is drawn, so it may set the sidebar's widgets)."""
    settings = loaded.settings  # its preset names the layers: a preset's name, else CUSTOM
    if settings.preset == CUSTOM:
        apply_network(loaded.layers)  # the sidebar's Network becomes "Your network from the editor"
    st.session_state.update(widget_state(_setting_values(settings)))  # so the Train page sees no changes to apply
    st.session_state.pop(DRAWING, None)  # the snapshot lives on in the job
    st.session_state.pop(CONFIRM, None)
    start_job(settings, data, loaded.layers, initial_weights=loaded.weights, history=loaded.as_run_view())
    st.session_state[_GO_TRAIN] = True
    st.toast("Training goes on from the snapshot.", icon=":material/model_training:")


def _use_for_drawing(loaded: LoadedSnapshot) -> None:
    """Button callback: the loaded network answers on the Draw and Inside pages (the session's job, if any, goes)."""
    stop_job()
    st.session_state[DRAWING] = loaded
    st.session_state.pop(CONFIRM, None)
    st.toast("The Draw and Inside pages now answer with the loaded snapshot.", icon=":material/draw:")


def _setting_values(settings: TrainSettings) -> dict[str, Any]:
    """`settings` as ui.query_settings.widget_state takes them: by settings field."""
    values = {"optimizer": settings.optimizer.name, **settings.optimizer.params, "preset": settings.preset}
    for name in RUN_FIELDS:
        values[name] = getattr(settings, name)
    return values
