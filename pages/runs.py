"""The Runs page: the run history of this browser, its curves overlaid, and the class board."""

from __future__ import annotations

import streamlit as st

from ui.run_store import store_notes
from ui.runs_views import runs_page
from ui.streamlit_workarounds import through_entrypoint

through_entrypoint()

st.title("Runs")
store_notes()
runs_page()
