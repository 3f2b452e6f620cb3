"""The My digits page: the digits this browser saved on the Draw page, how the networks read them, and the class set."""

from __future__ import annotations

from ui.my_digits import my_digits_page
from ui.streamlit_workarounds import through_entrypoint

through_entrypoint()
my_digits_page()
