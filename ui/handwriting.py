"""Saved digits in training: the sidebar's switches for them, and the digits a new run is handed.

The settings `own_digits` and `class_digits` say what a person asked for. Whether there are enough digits is read
from the run store only when a switch is on (the sidebar says why not) and when a run starts: a run whose digits
are not there trains on MNIST alone, its settings say so, and a toast says why. The job never reads the store.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_core.data.own_digits import DEFAULT_SHARE, HELD_OUT_ONE_IN, ExtraDigits, unavailable_reason
from mnist_core.settings import FIELDS, RUN_FIELDS, TrainSettings
from ui.browser_id import run_owner
from ui.markdown import escape_markdown

# The on/off settings that add saved digits to a run, with whose digits they add.
WHOSE = {"own_digits": "your digits", "class_digits": "the class set"}
TOGGLES = tuple(name for name in RUN_FIELDS if FIELDS[name].toggle)
WEIGHT = (
    f"Each epoch, the saved digits (all but the held-out one in {HELD_OUT_ONE_IN}) are repeated so that they make "
    f"{DEFAULT_SHARE:.0%} of its examples."
)


def unavailable(field: str) -> str | None:
    """Why the digits the switch `field` adds cannot go into a run now, or None when they can."""
    from mnist_core.store import StoreError  # SQLAlchemy: only once a switch is on
    from ui.run_store import run_store

    try:
        store = run_store()
        count = store.digits.count(run_owner()) if field == "own_digits" else store.digits.class_counts().total
    except StoreError as exc:
        return f"Saved digits cannot be read now: {exc}"
    return unavailable_reason(count, class_set=field == "class_digits")


def toggle_note(where, field: str, on: bool) -> bool:
    """Under a switch that is on, why its digits cannot be used; whether they can (False when it is off)."""
    if not on:
        return False
    if reason := unavailable(field):
        where.caption(f":material/info: {escape_markdown(reason)} Until then a run trains on MNIST alone.")
        return False
    return True


def with_extra_digits(settings: TrainSettings) -> tuple[TrainSettings, ExtraDigits | None]:
    """The settings a new run trains with and the saved digits it mixes in (None: none asked for, or none there).

    A switch whose digits cannot be used is turned off in the returned settings, so the run's record says what it
    trained on; a toast says why.
    """
    wanted = [field for field in TOGGLES if getattr(settings, field)]
    if not wanted:
        return settings, None
    from mnist_core.store import StoreError
    from ui.run_store import run_store

    store, chosen = run_store(), {}
    for field in wanted:
        try:
            listing = store.digits.digits(run_owner()) if field == "own_digits" else store.digits.class_set()
            reason = unavailable_reason(len(listing), class_set=field == "class_digits")
        except StoreError as exc:
            listing, reason = None, f"Saved digits cannot be read now: {exc}"
        if reason:
            settings = settings.with_(**{field: 0})
            label = FIELDS[field].label
            st.toast(f"**{label}** is off for this run. {escape_markdown(reason)}", icon=":material/info:")
        else:
            chosen[field] = listing
    if not chosen:
        return settings, None
    by_id = {digit.id: digit for listing in chosen.values() for digit in listing}  # a shared digit of one's own once
    digits = [by_id[i] for i in sorted(by_id)]
    ids = np.array([d.id for d in digits], np.int64)
    x, y = np.stack([d.pixels for d in digits]), np.array([d.label for d in digits], np.uint8)
    return settings, ExtraDigits.of(ids, x, y, name=" and ".join(WHOSE[field] for field in chosen))
