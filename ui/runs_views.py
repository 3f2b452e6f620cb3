"""The Runs page: your runs (table, filters, curves overlaid, a run's detail and actions) and the class board."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mnist_core.charts.runs import OVERLAY_METRICS, overlay_frame, overlay_spec
from mnist_core.model.architecture import describe_layer
from mnist_core.store import RunStore, RunSummary, StoreError
from mnist_core.store.table import SORTS, board_table, runs_table, settings_rows, sort_table, table_csv
from ui import runs_actions as act
from ui.browser_id import run_owner
from ui.markdown import escape_markdown
from ui.run_store import run_store
from ui.session import current_job

OVERLAY, DETAIL, SORT = "runs_overlay", "runs_detail", "runs_sort"
FILTERS = {"optimizer": "runs_filter_optimizer", "network": "runs_filter_network", "status": "runs_filter_status"}
BOARD_PICK = "runs_board_pick"
DEFAULT_OVERLAID = 2


def literal(text: str) -> str:
    """Text from the store as Markdown shows it literally."""
    return escape_markdown(text)


def label(summary: RunSummary) -> str:
    accuracy = f"{summary.test_accuracy:.2%}" if summary.test_accuracy is not None else "–"
    return f"#{summary.id} {summary.name} ({accuracy})"


def runs_page() -> None:
    store = run_store()
    problem = store.check()  # opens it if closed; runs that waited in memory go in as soon as the database takes them
    owner = run_owner()
    _flash()
    if problem:
        st.warning(f"**Runs are not being saved now.** {literal(problem)}", icon=":material/cloud_off:")
    mine_tab, board_tab = st.tabs(["Your runs", "Class board"])
    with mine_tab:
        _read(lambda: _your_runs(store, owner, _shown_runs(store.runs(owner))), problem)
    with board_tab:
        _read(lambda: _board(store, _shown_runs(store.board())), problem)


def _shown_runs(listing: list[RunSummary]) -> list[RunSummary]:
    """The runs, after a warning naming how many stored rows could not be read (their values were edited)."""
    skipped = getattr(listing, "unreadable", 0)
    if skipped:
        runs = "stored run could not be read and is" if skipped == 1 else "stored runs could not be read and are"
        st.warning(
            f"{skipped:,} {runs} not shown: a value in {'it' if skipped == 1 else 'them'} is not what the store "
            "writes (the database was edited or damaged). The server's log names each.",
            icon=":material/report:",
        )
    return listing


def _read(draw, problem: str | None) -> None:
    """Draw a tab from the store; if it cannot be read, say why (or point at the reason already shown above)."""
    try:
        draw()
    except StoreError as exc:
        why = "See why above." if problem and str(exc) in problem else literal(str(exc))
        st.error(f"**The run history cannot be read.** {why}", icon=":material/error:")


def _flash() -> None:
    held = st.session_state.pop(act.FLASH, None)
    if held:
        done, message = held
        (st.success if done else st.error)(literal(message), icon=":material/info:")


def _your_runs(store: RunStore, owner: str, mine: list[RunSummary]) -> None:
    st.caption(
        "Every run of yours that finishes, stops or diverges on the Train page, and every contestant of your races, "
        "is kept here, for this browser's later visits too."
    )
    if not mine:
        st.info(
            "No runs yet. Train on the Train page or race on the Compare page: each run that ends appears here.",
            icon=":material/history:",
        )
        return
    frame = _filtered(runs_table(mine))
    st.dataframe(
        frame,
        hide_index=True,
        width="stretch",
        column_config={
            "run": st.column_config.NumberColumn("run", format="%d"),
            "when": st.column_config.DatetimeColumn("when (UTC)", format="YYYY-MM-DD HH:mm"),
            "test accuracy": st.column_config.NumberColumn(format="percent"),
            "validation accuracy": st.column_config.NumberColumn(format="percent"),
            "loss": st.column_config.NumberColumn(format="%.4f"),
            "training s": st.column_config.NumberColumn(format="%.1f"),
            "examples/s": st.column_config.NumberColumn(format="%.0f"),
        },
    )
    st.download_button(
        "Download the table (CSV)",
        table_csv(frame),
        file_name="mnist_live_runs.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/table:",
    )
    shown = {s.id: s for s in mine if s.id in set(frame["run"])}
    if not shown:
        st.info("No run matches these filters.", icon=":material/filter_alt_off:")
        return
    _overlay(store, [shown[i] for i in frame["run"]])
    _detail(store, owner, [shown[i] for i in frame["run"]])


def _filtered(frame: pd.DataFrame) -> pd.DataFrame:
    columns = st.columns([1, 1, 1, 1])
    everything = frame
    for column, (field, key) in zip(columns, FILTERS.items()):
        options = sorted(everything[field].dropna().unique())
        kept = [v for v in st.session_state.get(key, []) if v in options]
        st.session_state[key] = kept
        chosen = column.multiselect(field.capitalize(), options, key=key, placeholder="all")
        if chosen:
            frame = frame[frame[field].isin(chosen)]
    sort = columns[3].selectbox("Sort", list(SORTS), key=SORT)
    return sort_table(frame, sort)


def _overlay(store: RunStore, runs: list[RunSummary]) -> None:
    st.subheader("Curves")
    ids = [s.id for s in runs]
    by_id = {s.id: s for s in runs}
    if OVERLAY not in st.session_state:
        st.session_state[OVERLAY] = ids[:DEFAULT_OVERLAID]
    st.session_state[OVERLAY] = [i for i in st.session_state[OVERLAY] if i in by_id]
    picked = st.multiselect(
        "Overlay the curves of", ids, key=OVERLAY, format_func=lambda i: label(by_id[i]), placeholder="pick runs"
    )
    if not picked:
        st.caption("Pick runs above to draw their loss and accuracy curves over each other.")
        return
    labels = {i: label(by_id[i]) for i in picked}
    frame = overlay_frame({labels[i]: curves for i, curves in store.curves(picked).items()})
    left, right = st.columns(2)
    for column, metric in zip((left, right), OVERLAY_METRICS):
        column.vega_lite_chart(frame, overlay_spec(metric, tuple(labels.values())), width="stretch")


def _detail(store: RunStore, owner: str, runs: list[RunSummary]) -> None:
    st.subheader("A run")
    by_id = {s.id: s for s in runs}
    if st.session_state.get(DETAIL) not in by_id:
        st.session_state.pop(DETAIL, None)
    run_id = st.selectbox("Run", list(by_id), key=DETAIL, format_func=lambda i: label(by_id[i]))
    stored = store.get(run_id)
    if stored is None:
        st.info(f"Run {run_id} is gone.", icon=":material/info:")
        return
    summary = stored.summary
    cols = st.columns(6)
    cols[0].metric("Test accuracy", _shown(summary.test_accuracy, ".2%"))
    cols[1].metric("Validation accuracy", _shown(summary.validation_accuracy, ".2%"))
    cols[2].metric("Loss", _shown(summary.final_loss, ".4f"))
    cols[3].metric("Examples seen", f"{summary.examples_seen:,}")
    cols[4].metric("Training time", f"{summary.train_seconds:.1f} s")
    cols[5].metric("Examples / s", _shown(summary.examples_per_second, ",.0f"))
    settings_col, layers_col = st.columns(2)
    settings_col.dataframe(settings_rows(summary.settings, summary.weight_count), hide_index=True, width="stretch")
    try:
        layers_col.dataframe(
            pd.DataFrame({"layer": [describe_layer(spec) for spec in stored.layers()]}), hide_index=True
        )
    except StoreError as exc:
        layers_col.error(literal(str(exc)), icon=":material/error:")
    if summary.weights_note and not summary.has_weights:
        st.caption(literal(f"No weights kept: {summary.weights_note}."))
    _actions(store, owner, summary)


def _shown(value: float | None, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _actions(store: RunStore, owner: str, summary: RunSummary) -> None:
    run_id = summary.id
    job = current_job()
    allowed = True
    if job is not None:
        allowed = st.checkbox(
            "Replace my current network (drawing with or continuing this run replaces it)", key=act.REPLACE
        )
    use, draw, train, remove = st.columns(4)
    use.button(
        "Use these settings", on_click=act.use_settings, args=(store, run_id), icon=":material/tune:", width="stretch"
    )
    weights = summary.has_weights
    draw.button(
        "Draw with this network", on_click=act.draw_with, args=(store, run_id), disabled=not (weights and allowed),
        icon=":material/draw:", width="stretch",
    )  # fmt: skip
    train.button(
        "Continue training from it", on_click=act.continue_training, args=(store, run_id),
        disabled=not (weights and allowed), icon=":material/model_training:", width="stretch",
    )  # fmt: skip
    remove.button(
        "Delete this run", on_click=act.delete_run, args=(store, run_id, owner), icon=":material/delete:",
        width="stretch",
    )  # fmt: skip
    name_key, nick_key = f"runs_name_{run_id}", f"runs_nickname_{run_id}"
    name_col, name_button, nick_col, share_button = st.columns([2, 1, 2, 1.4], vertical_alignment="bottom")
    name_col.text_input("Run name", value=summary.name, key=name_key, max_chars=80)
    name_button.button("Rename", on_click=act.rename_run, args=(store, run_id, owner, name_key), width="stretch")
    if summary.shared:
        nick_col.markdown(f"On the class board as **{literal(summary.nickname or '')}**.")
        share_button.button(
            "Take it off the board", on_click=act.unshare_run, args=(store, run_id, owner), width="stretch"
        )
    else:
        nick_col.text_input("Nickname for the class board", key=nick_key, max_chars=40)
        share_button.button(
            "Share on the class board", on_click=act.share_run, args=(store, run_id, owner, nick_key),
            icon=":material/share:", width="stretch",
        )  # fmt: skip


def _board(store: RunStore, board: list[RunSummary]) -> None:
    st.caption("Runs that anyone on this server shared, best test accuracy first, with the settings that gave them.")
    if not board:
        st.info("No runs are shared yet: share one of yours from its detail under Your runs.", icon=":material/group:")
        return
    st.dataframe(
        board_table(board),
        hide_index=True,
        width="stretch",
        column_config={
            "test accuracy": st.column_config.NumberColumn(format="percent"),
            "learning rate": st.column_config.NumberColumn(format="%g"),
            "decay": st.column_config.NumberColumn(format="%g"),
            "training s": st.column_config.NumberColumn(format="%.1f"),
            "shared": st.column_config.DatetimeColumn("shared (UTC)", format="YYYY-MM-DD HH:mm"),
        },
    )
    by_id = {s.id: s for s in board}
    if st.session_state.get(BOARD_PICK) not in by_id:
        st.session_state.pop(BOARD_PICK, None)
    pick, button = st.columns([3, 1], vertical_alignment="bottom")
    run_id = pick.selectbox(
        "Board run", list(by_id), key=BOARD_PICK, format_func=lambda i: f"{by_id[i].nickname}: {label(by_id[i])}"
    )
    button.button(
        "Use these settings", key="runs_board_use", on_click=act.use_settings, args=(store, run_id),
        icon=":material/tune:", width="stretch",
    )  # fmt: skip
