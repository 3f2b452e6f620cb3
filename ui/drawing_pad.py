"""The Draw page's drawing pad: a small Streamlit component (components v2) that sends the drawing as the pen lifts.

It replaced streamlit-drawable-canvas there, whose frontend waits 200 ms after each stroke before sending it
(a fixed debounce in its bundle): more than the Draw page's whole budget from mouse-up to answer
(docs/architecture.md, "Dependencies").
Mouse, pen and touch all arrive as pointer events; Undo and Clear are the pad's own buttons. A digit key pressed
while the pad holds a drawing (and no text field has the focus) is sent once, as the drawing's label.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import MutableMapping
from functools import cache
from pathlib import Path

import numpy as np
import streamlit as st

from mnist_core.data.drawing_value import DrawingError, decode_pad_value

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
UNEXPECTED = (
    "The drawing could not be read (an unexpected error; details are in the server log). Clear the pad and draw again."
)
_LOG = logging.getLogger(__name__)


@cache
def _component():
    """Registered once per process, inside the running app (registration needs Streamlit's runtime)."""
    return st.components.v2.component(
        NAME, html='<div class="pad-root"></div>', css=_CSS, js=_JS.read_text(), isolate_styles=True
    )


def drawing_pad(stroke_width: int, size: int, key: str) -> tuple[np.ndarray | None, str | None, object]:
    """(the drawing as an RGBA uint8 array or None while the pad is empty, why the pad's value is not a drawing,
    the digit key pressed for it in this run or None: unchecked, as the browser sent it)."""
    result = _component()(
        key=key,
        data={"width": stroke_width, "size": size},
        default={"drawing": None},
        on_drawing_change=lambda: None,
        on_label_change=lambda: None,
        width="content",
        height="content",
    )
    image, problem = decoded_once(result.get("drawing"), size, st.session_state, f"{key}_decoded")
    return image, problem, result.get("label")


def decoded_once(value: object, size: int, store: MutableMapping, slot: str) -> tuple[np.ndarray | None, str | None]:
    """decode_pad_value as (image, problem), kept in store[slot] while the pad keeps sending the same data URL.

    The page reruns on every widget change (and every 3 s while a job trains); the same array coming back also
    lets the page preprocess it once.
    """
    url = value.get("png") if isinstance(value, dict) else None
    if not isinstance(url, str):  # nothing costly to decode: no data URL
        return _decoded(value, size)
    digest = hashlib.sha256(url.encode("utf-8", "surrogatepass")).hexdigest()
    held = store.get(slot)
    if held is None or held[0] != (digest, size):
        held = ((digest, size), *_decoded(value, size))
        store[slot] = held
    return held[1], held[2]


def _decoded(value: object, size: int) -> tuple[np.ndarray | None, str | None]:
    try:
        return decode_pad_value(value, size), None
    except DrawingError as exc:
        return None, str(exc)
    except Exception:  # noqa: BLE001 - a pad value must never produce a traceback in the page; logged for us
        _LOG.exception("decoding the drawing pad's value failed")
        return None, UNEXPECTED
