"""The Runs page's buttons: use a run's settings, draw with or continue its network, share, rename, delete.

Each is a widget callback, so it runs before the sidebar is drawn and may set the sidebar's widgets. A failure
(a store that cannot be reached, a run edited into nonsense) is kept in FLASH and shown by the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC

import streamlit as st

from mnist_core.settings import TrainSettings
from mnist_core.store import RunStore, StoredRun, StoreError
from mnist_core.store.curves import history
from mnist_core.store.table import network_label, optimizer_label
from ui.network import CUSTOM, CUSTOM_LAYERS, PRESET_KEY
from ui.query_settings import widget_state
from ui.session import dataset
from ui.snapshots import _continue, _setting_values, _use_for_drawing

FLASH = "runs_flash"  # (done, message) to show once: True for a success, False for a failure
REPLACE = "runs_replace"  # the checkbox that allows replacing the session's network


def guarded(action: Callable[..., str]) -> Callable[..., None]:
    """A callback that keeps `action`'s message (or its StoreError's) for the page to show."""

    def callback(*args) -> None:
        try:
            message = action(*args)
            if message:
                st.session_state[FLASH] = (True, message)
        except StoreError as exc:
            st.session_state[FLASH] = (False, str(exc))

    return callback


def _stored(store: RunStore, run_id: int) -> StoredRun:
    stored = store.get(run_id)
    if stored is None:
        raise StoreError(f"Run {run_id} is no longer in the store.")
    return stored


def _apply_settings(settings: TrainSettings, layers: list) -> None:
    if settings.preset == CUSTOM:
        st.session_state[CUSTOM_LAYERS] = [dict(spec) for spec in layers]  # the sidebar's "your network"
    st.session_state.update(widget_state(_setting_values(settings)))
    st.session_state[PRESET_KEY] = settings.preset


@guarded
def use_settings(store: RunStore, run_id: int) -> str:
    stored = _stored(store, run_id)
    layers = stored.layers()
    _apply_settings(stored.summary.train_settings(layers), layers)
    return f"The sidebar now holds run {run_id}'s settings: press Train on the Train page to train with them."


def _loaded(stored: StoredRun):
    """The run as a LoadedSnapshot: what the Snapshots panel's Continue and Use for drawing take."""
    from mnist_core.inspection.inference import InferenceModel
    from mnist_core.model.architecture import build_model
    from mnist_core.snapshots import LoadedSnapshot

    summary = stored.summary
    layers = stored.layers()
    settings = summary.train_settings(layers)
    weights = stored.weights()  # refused here when they do not fit the layers
    model = build_model(layers, settings.seed)
    model.set_weights(weights)
    epochs, progress = history(stored.curves)
    quality = f"test accuracy {summary.test_accuracy:.2%}" if summary.test_accuracy is not None else "not evaluated"
    description = (
        f"run {summary.id} from the run history: {network_label(summary.network, summary.weight_count)}; "
        f"{optimizer_label(summary.optimizer)}, batch size {settings.batch_size}; {summary.examples_seen:,} "
        f"examples seen; {quality}; {summary.created_at.astimezone(UTC):%Y-%m-%d %H:%M} UTC."
    )
    return LoadedSnapshot(
        layers=layers,
        settings=settings,
        weights=model.get_weights(),
        model=InferenceModel(model),
        epochs=epochs,
        progress=progress,
        examples_seen=summary.examples_seen,
        train_seconds=summary.train_seconds,
        weight_count=summary.weight_count,
        created=summary.created_at,
        app_version="",
        description=description,
    )


@guarded
def draw_with(store: RunStore, run_id: int) -> str:
    _use_for_drawing(_loaded(_stored(store, run_id)))
    st.session_state.pop(REPLACE, None)
    return f"The Draw and Inside pages now answer with run {run_id}'s network."


@guarded
def continue_training(store: RunStore, run_id: int) -> str:
    data = dataset()
    if data is None:
        raise StoreError("MNIST could not be loaded, so nothing can train now.")
    _continue(_loaded(_stored(store, run_id)), data)
    st.session_state.pop(REPLACE, None)
    return ""  # the Train page opens, and the Snapshots panel's toast says it


@guarded
def delete_run(store: RunStore, run_id: int, owner: str) -> str:
    if not store.delete(run_id, owner):
        raise StoreError(f"Run {run_id} is not one of yours, or it is gone already.")
    return f"Run {run_id} is deleted."


def _with_typed_text(change: Callable[[int, str, str], bool], run_id: int, owner: str, key: str) -> None:
    """`change(run_id, owner, text)` with the text typed in the widget `key`; refused when it is not the owner's."""
    if not change(run_id, owner, st.session_state.get(key, "")):
        raise StoreError(f"Run {run_id} is not one of yours, or it is gone.")


@guarded
def share_run(store: RunStore, run_id: int, owner: str, key: str) -> str:
    _with_typed_text(store.share, run_id, owner, key)
    return f"Run {run_id} is on the class board."


@guarded
def unshare_run(store: RunStore, run_id: int, owner: str) -> str:
    store.unshare(run_id, owner)
    return f"Run {run_id} is off the class board."


@guarded
def rename_run(store: RunStore, run_id: int, owner: str, key: str) -> str:
    _with_typed_text(store.rename, run_id, owner, key)
    return f"Run {run_id} is renamed."
