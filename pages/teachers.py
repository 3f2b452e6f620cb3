"""The For teachers page: build a lesson link without editing a URL."""

from __future__ import annotations

from ui.streamlit_workarounds import through_entrypoint
from ui.teachers import teachers_page

through_entrypoint()
teachers_page()
