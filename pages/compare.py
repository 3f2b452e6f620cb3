"""The Compare optimizers page: a fair race between optimizers on the same network, drawn live."""

from __future__ import annotations

from functools import partial

import pandas as pd
import streamlit as st

from mnist_core.charts.race import METRICS, race_frame, race_spec
from mnist_core.cluster.factory import new_race
from mnist_core.runtime.queue import get_queue
from mnist_core.settings import OPTIMIZERS, TrainSettings, shown
from mnist_core.training.contestants import (
    COLUMNS,
    EVAL_EVERY,
    MAX_CONTESTANTS,
    RACE_MEMORY_BUDGET_BYTES,
    check_race,
    contestant_rows,
    default_contestants,
    validate_contestants,
)
from mnist_core.training.race import Race
from mnist_core.training.race_results import summary_text
from mnist_core.training.status import Status
from ui.lifecycle import session_owner
from ui.network import layers_for, network_label
from ui.queue_note import limit_note, show_waiting, show_where
from ui.run_controls import pause_and_stop, start_run
from ui.run_store import save_race_when_done
from ui.session import dataset
from ui.sidebar import SETTINGS
from ui.streamlit_workarounds import through_entrypoint

through_entrypoint()

ROWS, VERSION, RACE = "compare_rows", "compare_version", "race"

st.title("Compare optimizers")
st.caption(
    "The same network trained by several optimizers side by side, as in ConvNetJS's trainer comparison, "
    "but fair and faster. Edit the contestants, then start the race; the curves grow together."
)
settings = st.session_state.get(SETTINGS) or TrainSettings()
data = dataset()
if ROWS not in st.session_state:
    st.session_state[ROWS] = contestant_rows(default_contestants())
    st.session_state[VERSION] = 0


def _replace_rows(rows: list[dict]) -> None:
    st.session_state[ROWS] = rows
    st.session_state[VERSION] += 1  # a new editor key drops the old editor's pending edits


# Short headers (full names in their help) and widths in pixels: the eleven columns fit 1400 px unscrolled.
_PARAMETERS = {
    "learning_rate": ("lr", "Learning rate", 70),
    "momentum": ("momentum", "Momentum (SGD with momentum, Nesterov)", 95),
    "rho": ("rho", "Decay of the squared-gradient average (RMSprop, Adadelta)", 60),
    "beta_1": ("β₁", "Adam's first-moment decay", 60),
    "beta_2": ("β₂", "Adam's second-moment decay", 60),
    "epsilon": ("ε", "Epsilon: the small constant added to the denominator", 75),
}


def _table() -> list[dict]:
    number = partial(st.column_config.NumberColumn, format="%g")
    config = {
        "name": st.column_config.TextColumn("name", required=True, width=120),
        "optimizer": st.column_config.SelectboxColumn("optimizer", options=list(OPTIMIZERS), required=True, width=95),
        "batch_size": number("batch", step=1, format=None, help="Batch size", width=65),
        "weight_decay": number("L2 decay", help="L2 weight decay", width=90),
        "averaging": number(
            "EMA", help="Weight average (EMA) momentum, written back after each chunk; blank: off", width=65
        ),
        **{k: number(label, help=text, width=width) for k, (label, text, width) in _PARAMETERS.items()},
    }
    frame = pd.DataFrame(st.session_state[ROWS], columns=list(COLUMNS))
    edited = st.data_editor(
        frame, num_rows="dynamic", column_config=config, key=f"compare_editor_{st.session_state[VERSION]}",
        width="stretch", hide_index=False, placeholder="",
    )  # fmt: skip
    st.caption("Empty cells are fields the optimizer does not use. Add rows with + below the table, delete "
               "them by selecting their index and pressing the bin.")  # fmt: skip
    st.caption(f"At most {MAX_CONTESTANTS} contestants race: rows from index {MAX_CONTESTANTS} on are flagged and "
               f"do not race. A race may take up to {RACE_MEMORY_BUDGET_BYTES / 2**20:,.0f} MB of memory (every "
               "contestant's model plus one training step), or it does not start.")  # fmt: skip
    return edited.to_dict("records")


def _row_tools(rows: list[dict]) -> None:
    pick, duplicate, reset = st.columns([2, 1, 1], vertical_alignment="bottom")
    names = [str(r.get("name") or f"row {i + 1}") for i, r in enumerate(rows)]
    chosen = pick.selectbox("Row to duplicate", range(len(rows)), format_func=lambda i: names[i]) if rows else None
    full = len(rows) >= MAX_CONTESTANTS
    if duplicate.button("Duplicate row", disabled=chosen is None or full, width="stretch"):
        copy = dict(rows[chosen], name=f"{names[chosen]} (copy)")
        _replace_rows([*rows, copy])
        st.rerun()
    if reset.button("Reset to defaults", width="stretch"):
        _replace_rows(contestant_rows(default_contestants()))
        st.rerun()


def _shared() -> tuple[int, int]:
    budget_col, every_col = st.columns(2)
    budget = budget_col.number_input("Budget: examples each", 1_000, 550_000, len(data.train), step=5_000)
    every = every_col.number_input("Evaluate every (examples)", 500, 55_000, EVAL_EVERY, step=500)
    st.caption(
        f"Network: {network_label(settings.preset)}; seed {settings.seed}; {settings.crops} crops per test "
        "prediction (from the sidebar). Fair by construction: every contestant starts from the same initial "
        "weights and sees the same examples in the same order, with the same random crops when batch sizes "
        "are equal; only the optimizer differs."
    )
    return int(budget), int(every)


def _controls(contestants, budget: int, every: int, refused: bool) -> Status | None:
    """Start, Pause/Resume and Stop; returns the race status they were drawn for."""
    race = st.session_state.get(RACE)
    alive = bool(race and race.alive)
    status = race.view().status if race else None
    start, pause, stop = st.columns(3)
    blocked = alive or not contestants or refused or data is None
    if start.button("Start race", type="primary", disabled=blocked, width="stretch"):
        if race is not None:
            race.stop()
        race = new_race(contestants, data, layers_for(settings), settings.seed, budget, every, settings.crops)
        start_run(RACE, race, partial(save_race_when_done, preset=settings.preset))
        st.rerun()
    pause_and_stop(race, status, pause, stop, key="race")
    return status


def _charts(race: Race) -> None:
    snap = race.view()
    show_where(race)
    if snap.status.waiting:
        show_waiting(
            race,
            snap.queue_position,
            snap.elapsed_seconds,
            "The whole race takes one slot (its contestants train in turn) and starts by itself when a job ahead "
            "finishes or stops. Your own training job on the Train page, while it runs, holds a slot too. "
            "**Stop** leaves the line.",
        )
        return
    done = sum(p[-1].examples_seen for p in snap.points.values() if p)
    total = snap.budget_examples * len(snap.points)
    who = ", ".join(f"{name}: {status}" for name, status in snap.statuses.items())
    label = f"**{snap.status.capitalize()}** · {snap.elapsed_seconds:.0f} s · {who}"
    st.progress(min(done / total, 1.0) if total else 0.0, text=label)
    if snap.status is Status.ERROR:
        st.error(snap.message, icon=":material/error:")
    x_field = "train_seconds" if st.session_state.get("race_x") == "training seconds" else "examples_seen"
    frame, names = race_frame(snap.points), tuple(snap.points)
    left, right = st.columns(2)
    for column, metric in zip((left, right, left), METRICS):
        column.vega_lite_chart(frame, race_spec(metric, x_field, names), width="stretch")


def _results(race: Race) -> None:
    results = race.results()
    table = pd.DataFrame([vars(r) for r in results])
    st.subheader("Results")
    st.dataframe(
        table, hide_index=True, width="stretch", placeholder="",
        column_config={
            "name": st.column_config.TextColumn("name", width=115),
            "optimizer": st.column_config.TextColumn("optimizer", width=110),
            "learning_rate": st.column_config.NumberColumn("lr", format="%g", help="Learning rate", width=60),
            "batch_size": st.column_config.NumberColumn("batch", width=60),
            "final_loss": st.column_config.NumberColumn("final loss", format="%.4f", width=80),
            "validation_accuracy": st.column_config.NumberColumn("validation", format="percent",
                                                                 help="Validation accuracy", width=80),
            "test_accuracy": st.column_config.NumberColumn("test", format="percent", help="Test accuracy", width=65),
            "examples_to_97": st.column_config.NumberColumn("to 97%", format="localized", width=70,
                                                            help="Examples seen until validation accuracy reached 97%"),
            "examples_to_98": st.column_config.NumberColumn("to 98%", format="localized", width=70,
                                                            help="Examples seen until validation accuracy reached 98%"),
            "train_seconds": st.column_config.NumberColumn("seconds", format="%.1f", help="Wall time of training",
                                                           width=70),
            "status": st.column_config.TextColumn("status", width=75),
            "diverged_at": st.column_config.NumberColumn("diverged", format="localized", width=75,
                                                         help="Examples seen when the loss blew up"),
        },
    )  # fmt: skip
    st.download_button("Download results (CSV)", table.to_csv(index=False), "race_results.csv", "text/csv",
                       on_click="ignore", icon=":material/table:")  # fmt: skip
    st.markdown(summary_text(results))


def _race_view(race: Race, controlled: Status | None) -> None:
    session_owner()  # re-arms the release hook after a reconnection
    st.radio("Horizontal axis", ["examples seen", "training seconds"], horizontal=True, key="race_x")
    running = not race.view().status.final
    queued = controlled is not None and controlled.waiting

    @st.fragment(run_every=1.0 if running else None)
    def _live() -> None:
        # The race from the session's state, not from this closure or a page global: Streamlit keeps a session's
        # fragments (and the page namespace they see) until it drops the session, after ui.lifecycle has ended it.
        live = st.session_state.get(RACE)
        if live is None:
            return
        status = live.view().status
        if running and status.final:
            st.rerun()  # the race ended: redraw the page once, with the results
        if queued and not status.waiting:
            st.rerun()  # it got its slot: redraw the controls too (Pause)
        _charts(live)

    _live()
    if not running:
        _results(race)


def _page() -> None:
    rows = _table()
    layers = layers_for(settings)
    contestants, errors = validate_contestants(rows, layers)
    for index, message in sorted(errors.items()):
        if index < MAX_CONTESTANTS:
            name = shown(rows[index].get("name") or "unnamed")
            st.error(f"Row {index} ({name}) will not race: {message}", icon=":material/block:")
    if len(rows) > MAX_CONTESTANTS:
        last = len(rows) - 1
        which = f"Row {last}" if last == MAX_CONTESTANTS else f"Rows {MAX_CONTESTANTS} to {last:,}"
        st.error(f"{which} will not race: {errors[MAX_CONTESTANTS]}", icon=":material/block:")
    problem = check_race(contestants, layers) if contestants else None
    if problem:
        st.error(f"The race cannot start. {problem}", icon=":material/memory:")
    if not rows:
        st.info("The table is empty: add a contestant with + below the table, or reset to the defaults.")
    _row_tools(rows)
    budget, every = _shared()
    limit_note(get_queue())
    controlled = _controls(contestants, budget, every, refused=problem is not None)
    race = st.session_state.get(RACE)
    if race is not None:
        _race_view(race, controlled)


if data is not None:
    _page()
