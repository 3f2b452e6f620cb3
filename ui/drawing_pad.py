"""The Draw page's drawing pad: a small Streamlit component (components v2) that sends the drawing as the pen lifts.

It replaced streamlit-drawable-canvas there, whose frontend waits 200 ms after each stroke before sending it
(a fixed debounce in its bundle): more than the Draw page's whole budget from mouse-up to answer (README, Draw page).
Mouse, pen and touch all arrive as pointer events; Undo and Clear are the pad's own buttons.
"""

from __future__ import annotations

import base64
import io
from functools import cache
from pathlib import Path

import numpy as np
import streamlit as st
from PIL import Image

NAME = "mnist_live.drawing_pad"
_JS = Path(__file__).with_suffix(".js")
_CSS = """
.pad{display:inline-flex;flex-direction:column;gap:6px}
.pad canvas{touch-action:none;cursor:crosshair;border-radius:6px;display:block}
.pad .tools{display:flex;gap:6px}
.pad button{font:14px sans-serif;padding:4px 12px;border-radius:6px;border:1px solid #ccc;background:#fff;
  cursor:pointer}
.pad button:hover{border-color:#4c78a8;color:#4c78a8}
"""
MAX_PNG_CHARS = 2_000_000  # a 280x280 drawing's PNG is a few kB; anything far larger did not come from the pad


@cache
def _component():
    """Registered once per process, inside the running app (registration needs Streamlit's runtime)."""
    return st.components.v2.component(
        NAME, html='<div class="pad-root"></div>', css=_CSS, js=_JS.read_text(), isolate_styles=True
    )


def drawing_pad(stroke_width: int, size: int, key: str) -> np.ndarray | None:
    """The drawing as an RGBA uint8 array (size, size, 4), or None while the pad is empty."""
    result = _component()(
        key=key,
        data={"width": stroke_width, "size": size},
        default={"drawing": None},
        on_drawing_change=lambda: None,
        width="content",
        height="content",
    )
    return decode_drawing(result.get("drawing"))


def decode_drawing(drawing: object) -> np.ndarray | None:
    """The pad's message ({"png": data URL or None, "strokes": n}) as an RGBA array; None if empty or malformed."""
    if not isinstance(drawing, dict):
        return None
    url = drawing.get("png")
    if not isinstance(url, str) or not url.startswith("data:image/png;base64,") or len(url) > MAX_PNG_CHARS:
        return None
    try:
        with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1], validate=True))) as image:
            if image.format != "PNG" or max(image.size) > 4096:
                return None
            return np.asarray(image.convert("RGBA"))
    except (OSError, ValueError):
        return None
