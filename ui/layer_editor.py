"""The Inside page's Architecture tab: the network's summary and the layer-table editor."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from mnist_core.model.architecture import MAX_PARAMETERS, ArchitectureError, LayerRow, LayerSpec, summarize
from mnist_core.model.budget import check_step_memory
from mnist_core.model.layer_table import COLUMNS, KINDS, layers_from_rows, table_rows
from mnist_core.settings import TrainSettings
from ui.network import CUSTOM_LAYERS, apply_network, layers_for, network_choices, network_label
from ui.table_edits import with_edits

ROWS, VERSION, APPLIED = "editor_rows", "editor_version", "editor_applied"
_BLOCK = ":material/block:"
_HELP = {
    "size": "Kernel size of a conv, window of a pooling layer.",
    "rate": "Fraction of values a dropout layer zeroes while training.",
}


def summary_frame(rows: list[LayerRow]) -> pd.DataFrame:
    """The summary as a table: layer, output shape, parameters."""
    return pd.DataFrame(
        {
            "row": [str(r.row) if r.row else "in" for r in rows],
            "layer": [r.layer for r in rows],
            "output shape": [" x ".join(map(str, r.output_shape)) for r in rows],
            "parameters": [r.parameters for r in rows],
        }
    )


def show_summary(layers: list[LayerSpec]) -> None:
    rows = summarize(layers)
    st.dataframe(summary_frame(rows), hide_index=True, width="stretch")
    st.markdown(f"**Total: {sum(r.parameters for r in rows):,} parameters.**")


def layer_editor(settings: TrainSettings) -> None:
    """Edit a layer list as a table; validate each row; apply it as the session's network."""
    if ROWS not in st.session_state:
        _load(layers_for(settings))
    if APPLIED in st.session_state:
        st.success(st.session_state.pop(APPLIED), icon=":material/check_circle:")
    choices = network_choices()
    pick, load = st.columns([3, 1], vertical_alignment="bottom")
    start = pick.selectbox(
        "Start from", list(choices), format_func=partial(network_label, choices=choices), key="editor_start"
    )
    load.button("Load into the editor", on_click=_load, args=(choices[start],), width="stretch")
    key = f"layer_editor_{st.session_state[VERSION]}"
    st.data_editor(
        pd.DataFrame(st.session_state[ROWS], columns=list(COLUMNS)), key=key, num_rows="dynamic", width="stretch",
        column_config=_columns(), on_change=_fold, args=(key,), placeholder="",
    )  # fmt: skip
    st.caption(
        "One row per layer, input first; the network reads a 24x24 crop. Empty cells are fields the layer does "
        "not use. Add a row with + under the table; delete rows by selecting them and pressing the bin."
    )
    _check_and_apply(st.session_state[ROWS], settings)


def _columns() -> dict:
    number = {c: st.column_config.NumberColumn(c, step=1, help=_HELP.get(c)) for c in ("filters", "units", "size")}
    return {
        "type": st.column_config.SelectboxColumn("type", options=list(KINDS), required=True),
        **number,
        "stride": st.column_config.NumberColumn("stride", step=1),
        "padding": st.column_config.SelectboxColumn("padding", options=["same", "valid"]),
        "activation": st.column_config.SelectboxColumn(
            "activation", options=["relu", "tanh", "sigmoid", "linear", "softmax"]
        ),
        "rate": st.column_config.NumberColumn("rate", format="%g", help=_HELP["rate"]),
    }


def _load(layers: list[LayerSpec]) -> None:
    st.session_state[ROWS] = table_rows(layers)
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1  # a fresh editor without old edits


def _fold(key: str) -> None:
    """Keep every edit in ROWS (a widget's state is dropped whenever its tab is not shown)."""
    st.session_state[ROWS] = with_edits(st.session_state[ROWS], st.session_state.get(key))
    st.session_state[VERSION] += 1


def _check_and_apply(rows: list[dict], settings: TrainSettings) -> None:
    try:
        layers = layers_from_rows(rows)
    except ArchitectureError as exc:
        problems = "\n".join(f"- {e[0].upper()}{e[1:]}" for e in exc.errors)
        st.error(f"**This layer table cannot be built**; the current network stays.\n\n{problems}", icon=_BLOCK)
        st.button("Apply and reset training", type="primary", disabled=True)
        return
    st.markdown("**Preview**")
    show_summary(layers)
    st.caption(f"The limit on this server is {MAX_PARAMETERS:,} parameters.")
    if problem := check_step_memory(layers, settings.batch_size):  # Train refuses it: say so before Apply
        st.warning(f"With the sidebar's batch size: {problem}", icon=":material/memory:")
    same = layers == st.session_state.get(CUSTOM_LAYERS)
    st.button(
        "Apply and reset training", type="primary", disabled=same, on_click=_apply, args=(layers,),
        help="Makes this the network of the Train and Compare pages (the sidebar's Network); "
        "the current training run is discarded.",
    )  # fmt: skip


def _apply(layers: list[LayerSpec]) -> None:
    apply_network(layers)
    st.session_state[APPLIED] = (
        "Applied: the Train and Compare pages now use this network (the sidebar's **Network** shows it). "
        "The previous training run was reset."
    )
