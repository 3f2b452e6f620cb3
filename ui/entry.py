"""Make every page run through the entrypoint (st.navigation and the shared sidebar)."""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def through_entrypoint() -> None:
    """Rerun through streamlit_app.py when Streamlit ran this page on its own.

    Until some session has called st.navigation, a server that sees a `pages/` folder uses the legacy
    multipage mode: a deep link such as /draw on a fresh server (and every AppTest rerun) executes the
    page file alone, without the sidebar. Switching that mode off and rerunning keeps the requested page.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
