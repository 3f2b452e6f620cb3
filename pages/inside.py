"""The Inside the network page: architecture and its editor, filters, activations, errors, crop averaging."""

from __future__ import annotations

import streamlit as st

from mnist_core.settings import TrainSettings
from ui.error_views import crop_averaging_tab, errors_tab
from ui.gradient_views import gradients_tab
from ui.inside_views import activations_tab, filters_tab
from ui.layer_editor import layer_editor, show_summary
from ui.lessons import current_lesson
from ui.models import answerer
from ui.session import dataset
from ui.sidebar import SETTINGS
from ui.streamlit_workarounds import through_entrypoint

through_entrypoint()

TABS = ("Architecture", "Filters", "Activations", "Gradients", "Errors", "Crop averaging")

st.title("Inside the network")
st.caption(
    "What the network is made of, what its filters and layers see, where it goes wrong on the 10,000 test "
    "digits, and what averaging several crops buys. Rewrite the network in the Architecture tab."
)
settings = st.session_state.get(SETTINGS) or TrainSettings()
data = dataset()
who = answerer()


@st.fragment(run_every=2.0 if who.training else None)
def _shown() -> None:
    now = answerer()
    if who.training and not now.training:
        st.rerun()  # the job ended: every tab redraws once with the final network
    st.markdown(f"Showing {now.description}")


_shown()

tabs = dict(zip(TABS, st.tabs(TABS, key="inside_tab", on_change="rerun")))
if tabs["Architecture"].open:
    with tabs["Architecture"]:
        st.subheader("The network shown")
        show_summary(who.layers)
        st.subheader("Edit the network")
        if current_lesson().shows("preset") and not current_lesson().locks("preset"):
            layer_editor(settings)
        else:
            st.info("The lesson link fixes the network, so it cannot be edited here.", icon=":material/lock:")
if tabs["Filters"].open:
    with tabs["Filters"]:
        filters_tab()
if tabs["Activations"].open:
    with tabs["Activations"]:
        activations_tab(data, settings.crops)
if tabs["Gradients"].open:
    with tabs["Gradients"]:
        gradients_tab(data)
if tabs["Errors"].open:
    with tabs["Errors"]:
        errors_tab(data, settings.crops)
if tabs["Crop averaging"].open:
    with tabs["Crop averaging"]:
        crop_averaging_tab(data)
