"""The My digits page: this browser's saved digits, how the networks read them, download, delete and share.

Each button is a widget callback that keeps its outcome in FLASH for the page to show; a store that cannot be
read or written is a message, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import streamlit as st

from mnist_core.charts.digits import gallery_html, gallery_order
from mnist_core.charts.evaluation import confusion_chart, selected_cell
from mnist_core.data.own_digits import LABELS, DigitError, npz_bytes
from mnist_core.inspection.evaluation import TestEvaluation, evaluate
from mnist_core.settings import TrainSettings
from mnist_core.store import DigitListing, DigitStore, StoreError
from ui.browser_id import run_owner
from ui.markdown import escape_markdown
from ui.models import answerer, pretrained
from ui.run_store import run_store, store_notes
from ui.sidebar import SETTINGS

FLASH = "my_digits_flash"  # (done, message) to show once
FILTER, PICK, NICKNAME, READER = "my_digits_label", "my_digits_pick", "class_nickname", "my_digits_reader"
PAGE = "my_digits_page"
PAGE_SIZE = 1_000  # digits drawn at once: more are pages, so a big collection stays quick to show
CONFIRM = "my_digits_confirm_delete"
PRETRAINED = "The bundled pretrained network"
YOURS = "Your network"


def my_digits_page() -> None:
    st.title("My digits")
    store_notes()
    store = run_store()
    owner = run_owner()
    _flash()
    try:
        mine = store.digits.digits(owner)
    except StoreError as exc:
        st.error(f"**Your digits cannot be read now.** {escape_markdown(str(exc))}", icon=":material/cloud_off:")
        return
    _unreadable(mine)
    st.caption(
        "The digits you labelled on the Draw page (**Right** or **It is a …**), as the network saw them: kept on this "
        "server under this browser. Delete any or all of them here."
    )
    if not mine:
        st.info(
            "No digits yet. Draw one on the Draw page and press **Right** or **It is a …** (or a digit key).",
            icon=":material/draw:",
        )
        return
    ids, x, y = mine.arrays()
    readings = _readings(ids, x, y)
    _scores(readings, len(ids))
    reader = st.radio("Read by", list(readings), horizontal=True, key=READER) if len(readings) > 1 else PRETRAINED
    reading = readings.get(reader) or readings[PRETRAINED]
    chart = f"my_digits_cell_{reader}"
    # The gallery comes first, so a phone shows it first; the cell picked in the chart below is in session state.
    _gallery(ids, x, y, reading, selected_cell(st.session_state.get(chart)))
    st.altair_chart(confusion_chart(reading, "of your digits"), width="content", on_select="rerun", key=chart)
    _actions(store.digits, owner, mine, ids, x, y)


def _flash() -> None:
    held = st.session_state.pop(FLASH, None)
    if held:
        done, message = held
        (st.success if done else st.error)(escape_markdown(message), icon=":material/info:")


def _unreadable(listing: DigitListing) -> None:
    if listing.unreadable:
        n = listing.unreadable
        st.warning(
            f"{n:,} stored digit{'s' if n != 1 else ''} could not be read and {'is' if n == 1 else 'are'} not shown: "
            "a value is not what the store writes (the database was edited or damaged). The server's log names each.",
            icon=":material/report:",
        )


def _readings(ids: np.ndarray, x: np.ndarray, y: np.ndarray) -> dict[str, TestEvaluation]:
    """How the pretrained network (shared by every session, per digit set) and the session's own network, if any,
    read the digits."""
    k = (st.session_state.get(SETTINGS) or TrainSettings()).crops
    readings = {PRETRAINED: pretrained_reading(x, y, k)}
    who = answerer()
    if who.own:
        readings[YOURS] = evaluate(who.model.predict, x, y, k, seed=0)
    return readings


@st.cache_data(max_entries=64, show_spinner=False)
def pretrained_reading(x: np.ndarray, y: np.ndarray, k: int) -> TestEvaluation:
    """The bundled network's reading of these digits: it depends on nothing else, so every session shares it."""
    return evaluate(pretrained().model.predict, x, y, k, seed=0)


def _scores(readings: dict[str, TestEvaluation], n: int) -> None:
    columns = st.columns(len(readings) + 1)
    for column, (name, reading) in zip(columns, readings.items()):
        column.metric(f"{name}: accuracy", f"{reading.accuracy:.1%}", help=f"{reading.k}-crop average, {n:,} digits")
    pre = pretrained()
    columns[-1].metric(
        "The pretrained network on MNIST's test set", f"{pre.test_accuracy_crops:.2%}", help=f"{pre.crops} crops"
    )


def _gallery(ids, x, y, reading: TestEvaluation, cell: tuple[int, int] | None) -> None:
    st.subheader("Gallery")
    options = ["all", *LABELS]
    chosen = st.segmented_control("Show", options, default="all", key=FILTER) or "all"
    shown = np.arange(len(ids)) if chosen == "all" else np.flatnonzero(y == chosen)
    if cell is not None:
        shown = shown[(y[shown] == cell[0]) & (reading.predicted[shown] == cell[1])]
        st.caption(f"Only the {cell[0]}s read as {cell[1]} (the cell picked in the confusion matrix below).")
    if not len(shown):
        st.info("None of your digits is shown with this choice.", icon=":material/filter_alt_off:")
        return
    order = shown[gallery_order(y[shown], reading.predicted[shown])]
    wrong = int((reading.predicted[shown] != y[shown]).sum())
    many = f"{len(shown):,} digit{'s' if len(shown) != 1 else ''}"
    if wrong:
        st.caption(f"{many}, the {wrong:,} misread first (outlined red), newest first within each.")
    else:
        st.caption(f"{many}, none misread, newest first.")
    pages = range(0, len(order), PAGE_SIZE)
    if len(pages) > 1:
        if st.session_state.get(PAGE) not in pages:
            st.session_state.pop(PAGE, None)
        n = len(order)
        first = st.selectbox("Digits", pages, key=PAGE, format_func=lambda i: _span(i, n))
        order = order[first : first + PAGE_SIZE]
    st.html(gallery_html(ids[order], x[order], y[order], reading.predicted[order]))


def _span(first: int, n: int) -> str:
    return f"{first + 1:,} to {min(first + PAGE_SIZE, n):,} of {n:,}"


def _actions(digits: DigitStore, owner: str, mine: DigitListing, ids, x, y) -> None:
    st.subheader("Keep, delete, share")
    st.download_button(
        "Download them (.npz, MNIST's layout: x, y)",
        npz_bytes(x, y),
        file_name="my_digits.npz",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
    )
    by_id = {d.id: d for d in mine}
    pick, one, share_one = st.columns([2, 1, 1], vertical_alignment="bottom")
    if st.session_state.get(PICK) not in by_id:
        st.session_state.pop(PICK, None)
    chosen = pick.selectbox("Digit", list(by_id), key=PICK, format_func=lambda i: _described(by_id[i]))
    one.button("Delete it", on_click=_guarded(digits.delete, "Digit deleted."), args=(chosen, owner), width="stretch")
    if by_id[chosen].shared:
        share_one.button(
            "Take it out of the class set", on_click=_guarded(digits.unshare, "Taken out of the class set."),
            args=(chosen, owner), width="stretch",
        )  # fmt: skip
    else:
        share_one.button(
            "Share it", on_click=_share_one, args=(digits, chosen, owner), width="stretch", icon=":material/share:"
        )
    nick, share_all = st.columns([3, 1], vertical_alignment="bottom")
    nick.text_input("Nickname for the class set (the class board's)", key=NICKNAME, max_chars=40)
    share_all.button("Share all my digits", on_click=_share_all, args=(digits, owner), width="stretch")
    confirm = st.checkbox(f"Yes, delete all {len(mine):,} of my digits", key=CONFIRM)
    st.button(
        "Delete all my digits", on_click=_delete_all, args=(digits, owner), disabled=not confirm,
        icon=":material/delete_forever:",
    )  # fmt: skip


def _described(digit) -> str:
    shared = f", in the class set as {digit.nickname}" if digit.shared else ""
    return f"#{digit.id}: a {digit.label} ({digit.source} {digit.created_at:%Y-%m-%d %H:%M} UTC{shared})"


def _guarded(action: Callable[..., bool], done: str) -> Callable[..., None]:
    def callback(*args) -> None:
        try:
            found = action(*args)
            st.session_state[FLASH] = (True, done) if found else (False, "That digit is gone already.")
        except (StoreError, DigitError) as exc:
            st.session_state[FLASH] = (False, str(exc))

    return callback


def _share_one(digits: DigitStore, digit_id: int, owner: str) -> None:
    nickname = st.session_state.get(NICKNAME, "")
    _guarded(lambda: digits.share(digit_id, owner, nickname), "Shared to the class set.")()


def _share_all(digits: DigitStore, owner: str) -> None:
    try:
        n = digits.share_all(owner, st.session_state.get(NICKNAME, ""))
        st.session_state[FLASH] = (True, f"{n:,} more digit{'s' if n != 1 else ''} shared to the class set.")
    except StoreError as exc:
        st.session_state[FLASH] = (False, str(exc))


def _delete_all(digits: DigitStore, owner: str) -> None:
    try:
        n = digits.delete_all(owner)
        st.session_state[FLASH] = (True, f"{n:,} digit{'s' if n != 1 else ''} deleted.")
    except StoreError as exc:
        st.session_state[FLASH] = (False, str(exc))
    st.session_state[CONFIRM] = False
