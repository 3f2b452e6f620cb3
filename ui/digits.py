"""The Draw page's "Right" and "It is a …": the digit as the network saw it, saved to the run store with its label.

A label arrives from a button or a digit key (ui.drawing_pad); the same drawing saved again with the same label
writes nothing, and with another label relabels its row (mnist_core.store.digits), so many saves a second of one
drawing are one row. A store that cannot be written leaves the page working and says so.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import numpy as np
import streamlit as st

from mnist_core.data.own_digits import LABELS, DigitError
from mnist_core.store import StoreError
from ui.browser_id import run_owner
from ui.markdown import escape_markdown
from ui.run_store import run_store

LAST = "digits_last_saved"  # (digest of the pixels, label, id) of this session's last save
NOTICE = "digits_notice_shown"  # the session was told, once, where saved digits are kept
OUTCOME = "digits_outcome"  # the last save's Outcome, shown under the buttons until the drawing changes
WHERE = (
    "Digits you label are kept on this server, under this browser, so you can test and train on them: "
    "**My digits** shows them and deletes them."
)
_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    saved: bool
    message: str
    digest: str  # the drawing it was about


def digest_of(pixels: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(pixels, np.uint8).tobytes()).hexdigest()


def save_digit(pixels: np.ndarray, label: object, source: str) -> Outcome:
    """Save `pixels` (the network's 28x28 input) as `label`; what happened, in a sentence for the page."""
    digest = digest_of(pixels)
    last = st.session_state.get(LAST)
    if last is not None and last[:2] == (digest, label):
        return Outcome(True, f"Saved as a {label}.", digest)  # coalesced: this drawing is already saved so
    try:
        digit_id = run_store().digits.save(run_owner(), pixels, label, source)
    except DigitError as exc:
        return Outcome(False, str(exc), digest)
    except StoreError as exc:
        why = escape_markdown(str(exc))
        return Outcome(False, f"**Digits are not being saved now.** {why} Drawing and reading work as before.", digest)
    except Exception:  # noqa: BLE001 - a save must never break the Draw page; logged for us
        _LOG.exception("saving a digit failed")
        return Outcome(False, "**Digits are not being saved now** (an unexpected error; see the server log).", digest)
    st.session_state[LAST] = (digest, label, digit_id)
    again = last is not None and last[0] == digest
    message = f"Relabelled: saved as a {label}." if again else f"Saved as a {label}."
    if not st.session_state.get(NOTICE):  # said once per session, in a toast that stays in view on a phone
        st.session_state[NOTICE] = True
        st.toast(WHERE, icon=":material/bookmark_added:")
    return Outcome(True, message, digest)


def label_buttons(answer: str, pixels: np.ndarray, predicted: int, source: str, keys: list | None = None) -> None:
    """The answer's HTML with "Right" beside it, "It is a" 0-9 under them, and what the last save did: compact, so
    a phone shows them under the pad. `keys` holds a digit key pressed in this run (from the browser: anything);
    it is taken out, so a fragment's later reruns do not save it again."""
    key = keys.pop() if keys else None
    chosen = key if isinstance(key, int) and not isinstance(key, bool) and key in LABELS else None
    with st.container(horizontal=True, gap="medium", vertical_alignment="center", key="draw_answer_row"):
        st.html(answer, width="content")
        if st.button("Right", key="draw_right", icon=":material/check:", help=f"Save it as a {predicted}."):
            chosen = predicted
    with st.container(horizontal=True, gap="small", vertical_alignment="center", key="draw_labels"):
        st.markdown("It is a", width="content")
        for digit in LABELS:
            if st.button(str(digit), key=f"draw_is_{digit}", help=f"Save it as a {digit} (or press {digit})."):
                chosen = digit
    if chosen is not None:
        st.session_state[OUTCOME] = save_digit(pixels, chosen, source)
    outcome = st.session_state.get(OUTCOME)
    if outcome is not None and outcome.digest == digest_of(pixels):
        if outcome.saved:
            st.success(outcome.message, icon=":material/bookmark_added:")
        else:
            st.warning(outcome.message, icon=":material/cloud_off:")
    else:
        st.caption("Right, a digit button or a digit key saves it with its label.")
