"""The Inside page's Errors and Crop averaging tabs: the shown network on all 10,000 test digits."""

from __future__ import annotations

import numpy as np
import streamlit as st

from mnist_core.charts.evaluation import (
    accuracy_floor,
    confusion_frame,
    confusion_spec,
    crop_study_frame,
    crop_study_spec,
    per_class_frame,
    per_class_spec,
    selected_cell,
)
from mnist_core.charts.stream import enlarge
from mnist_core.data.mnist import Mnist
from mnist_core.inspection.evaluation import RANDOM, crop_study, evaluate
from ui.models import Answerer, answerer

EVALUATION, STUDY = "inside_evaluation", "inside_crop_study"
SHOWN = 40  # images shown for a confusion cell or the confident mistakes


def _fresh(key: str, who: Answerer, extra: tuple = ()) -> tuple[object | None, bool]:
    """The cached result for `key` if it belongs to this network; whether it is older than its weights."""
    held = st.session_state.get(key)
    if held is None or held["model"] is not who.model or held["extra"] != extra:
        return None, False
    return held["value"], held["version"] != who.model.version


def _keep(key: str, who: Answerer, value: object, extra: tuple = ()) -> None:
    st.session_state[key] = {"model": who.model, "version": who.model.version, "extra": extra, "value": value}


def _needs_run(key: str, who: Answerer, extra: tuple, label: str) -> tuple[object | None, bool]:
    """Use a result while it fits the weights; re-measure by itself when idle, on request while training."""
    value, stale = _fresh(key, who, extra)
    if value is not None and not stale:
        return value, False
    if value is not None and who.training:
        st.caption("Measured on earlier weights: the network has trained since.")
        return value, st.button(label, icon=":material/refresh:")
    if value is None and who.training:
        return None, st.button(label, type="primary", icon=":material/play_arrow:")
    return value, True


def errors_tab(data: Mnist | None, crops: int) -> None:
    if data is None:
        st.info("The errors need the MNIST test set, which could not be loaded.", icon=":material/info:")
        return
    who = answerer()
    evaluation, run = _needs_run(EVALUATION, who, (crops,), "Evaluate the latest weights")
    if run:
        bar = st.progress(0.0, text=f"Reading the 10,000 test digits with {crops} crops each…")
        evaluation = evaluate(who.model.predict, data.test.x, data.test.y, crops, seed=0, progress=bar.progress)
        bar.empty()
        _keep(EVALUATION, who, evaluation, (crops,))
    if evaluation is None:
        st.info("Training is under way: evaluate its current weights when you want to look.", icon=":material/info:")
        return
    st.markdown(
        f"**{evaluation.accuracy:.2%}** of the {len(evaluation):,} test digits read right with {evaluation.k} "
        f"crops: **{evaluation.errors} mistakes**. Click a cell to see its digits."
    )
    left, right = st.columns([1.1, 1], gap="large")
    with left:
        event = st.vega_lite_chart(
            confusion_frame(evaluation), confusion_spec(evaluation.k, len(evaluation)), on_select="rerun",
            selection_mode="cell", key="confusion", width="content",
        )  # fmt: skip
    with right:
        classes = per_class_frame(evaluation)
        st.vega_lite_chart(classes, per_class_spec(accuracy_floor(classes["accuracy"])), width="stretch")
    cell = selected_cell(event)
    if cell is not None:
        _cell_images(data, evaluation, *cell)
    st.subheader("The most confident mistakes")
    _gallery(data, evaluation, evaluation.confident_mistakes(SHOWN), "No mistakes at all.")


def _cell_images(data: Mnist, evaluation, true: int, predicted: int) -> None:
    indices = evaluation.cell(true, predicted)
    what = f"{true}s read as {predicted}" if true != predicted else f"{true}s read right"
    more = f", the {SHOWN} most confident shown" if len(indices) > SHOWN else ""
    st.subheader(f"{len(indices):,} {what}{more}")
    _gallery(data, evaluation, indices[:SHOWN], "No test digit falls in this cell.")


def _gallery(data: Mnist, evaluation, indices: np.ndarray, empty: str) -> None:
    if len(indices) == 0:
        st.caption(empty)
        return
    images = [enlarge(data.test.x[i], 2) for i in indices]
    captions = [f"#{i}: {data.test.y[i]}→{evaluation.predicted[i]} {evaluation.confidence[i]:.0%}" for i in indices]
    st.image(images, caption=captions, width=84)


def crop_averaging_tab(data: Mnist | None) -> None:
    if data is None:
        st.info("This needs the MNIST test set, which could not be loaded.", icon=":material/info:")
        return
    st.caption(
        "The network reads a 24x24 crop of each 28x28 digit. Averaging the answers of several crops "
        "(random positions, or a fixed grid starting at the centre) corrects some mistakes of a single crop. "
        "Accuracy on all 10,000 test digits:"
    )
    who = answerer()
    study, run = _needs_run(STUDY, who, (), "Measure the latest weights")
    if run:
        bar = st.progress(0.0, text="Reading the 10,000 test digits at all 25 crop positions…")
        study = crop_study(who.model.predict, data.test.x, data.test.y, seed=0, progress=bar.progress)
        bar.empty()
        _keep(STUDY, who, study)
    if study is None:
        st.info("Training is under way: measure its current weights when you want to look.", icon=":material/info:")
        return
    st.vega_lite_chart(crop_study_frame(study), crop_study_spec(study.n), width="stretch")
    best = max(study.rows, key=lambda r: r.accuracy)
    gain = best.accuracy - study.centre
    st.markdown(
        f"Centre crop alone: **{study.centre:.2%}**. Best: **{best.accuracy:.2%}** with {best.k} "
        f"{'random' if best.method == RANDOM else 'grid'} crops, "
        f"{gain * 100:+.2f} points ({round(gain * study.n):+d} digits). Measured in {study.seconds:.1f} s."
    )
    st.dataframe(
        study.frame(), hide_index=True, column_config={"accuracy": st.column_config.NumberColumn(format="percent")}
    )
