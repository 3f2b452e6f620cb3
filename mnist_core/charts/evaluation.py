"""Altair charts of a test evaluation: a clickable confusion matrix, per-class accuracy, accuracy against crops.

As in charts.py, each spec is built once without data (`*_spec`, for `st.vega_lite_chart(frame, spec)`);
`*_chart` returns the Altair object with its data (for `st.altair_chart`, notebooks and tests).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import altair as alt
import numpy as np
import pandas as pd

from mnist_core.charts.training import spec_without_data
from mnist_core.inspection.evaluation import CENTRE, GRID, RANDOM, CropStudy, TestEvaluation

CELL = "cell"  # the confusion chart's selection parameter: Streamlit reports clicks under this name
SIDE = 400  # the plot's width and height in pixels: 40 px cells
# Green right, red wrong (as in the Train page's stream of digits); a cell without images stays blank.
RIGHT, PALE_RED, DARK_RED, EMPTY = "#2e9e4f", "#fcbba1", "#a50f15", "#f7f7f7"
METHODS = (RANDOM, GRID, CENTRE)


def confusion_frame(evaluation: TestEvaluation) -> pd.DataFrame:
    """One row per (true, predicted) cell, all 100 of them: count, share of the true class, correct flag."""
    counts = evaluation.confusion
    classes = len(counts)
    true, predicted = np.divmod(np.arange(classes * classes), classes)
    totals = counts.sum(axis=1)
    share = np.divide(counts, totals[:, None], out=np.zeros(counts.shape), where=totals[:, None] > 0)
    correct = true == predicted
    mistakes = np.where(correct, 0, counts.ravel())
    brightest = np.log1p(mistakes.max())
    return pd.DataFrame(
        {
            "true": true,
            "predicted": predicted,
            "count": counts.ravel(),
            "share": share.ravel(),
            "correct": correct,
            "mistakes": mistakes,  # the colour off the diagonal; 0 on it, so the diagonal does not stretch the scale
            # White text where the fill is dark: the diagonal, and mistakes high on the colour scale.
            "dark": correct | (np.log1p(mistakes) > 0.6 * brightest),
        }
    )


@cache
def confusion_spec(k: int, n: int) -> dict:
    """Vega-Lite spec (no data) of the confusion matrix of n test images read with k crops."""
    return spec_without_data(_confusion(pd.DataFrame(), k, n))


def confusion_chart(evaluation: TestEvaluation, what: str = "test images") -> alt.LayerChart:
    """The confusion matrix of `evaluation`, titled with its number of `what` (e.g. "of your digits")."""
    return _confusion(confusion_frame(evaluation), evaluation.k, len(evaluation), what)


def _confusion(frame: pd.DataFrame, k: int, n: int, what: str = "test images") -> alt.LayerChart:
    """Heatmap, true digit down and predicted across; mistakes red on a log scale, the diagonal green."""
    # toggle=False: one cell at a time (shift-click would otherwise add cells); empty=False: nothing outlined at first.
    cell = alt.selection_point(name=CELL, fields=["true", "predicted"], toggle=False, empty=False)
    # Altair's when() cannot chain conditions in front of a field, so the two conditions are written out.
    fill = alt.Color(
        "mistakes:Q",
        title="mistakes",
        scale=alt.Scale(type="symlog", range=[PALE_RED, DARK_RED]),
        legend=alt.Legend(orient="right", format="d", tickMinStep=1),
        condition=[{"test": "datum.correct", "value": RIGHT}, {"test": "datum.count == 0", "value": EMPTY}],
    )
    tooltip = [
        alt.Tooltip("true:O", title="true digit"),
        alt.Tooltip("predicted:O", title="read as"),
        alt.Tooltip("count:Q", title="images", format=","),
        alt.Tooltip("share:Q", title="share of this digit", format=".2%"),
    ]
    axis = {"labelAngle": 0, "labelFontSize": 13, "titleFontSize": 13}
    base = alt.Chart(frame).encode(
        x=alt.X("predicted:O", title="predicted digit", axis=alt.Axis(orient="top", **axis)),
        y=alt.Y("true:O", title="true digit", axis=alt.Axis(**axis)),
        tooltip=tooltip,
    )
    rect = (
        base.mark_rect(stroke="#1f2d3d", cursor="pointer")
        .encode(
            fill=fill,
            strokeWidth=alt.when(cell).then(alt.value(3)).otherwise(alt.value(0)),
        )
        .add_params(cell)
    )
    ink = alt.when("datum.dark").then(alt.value("white")).when("datum.count == 0").then(alt.value("#b0b0b0"))
    text = base.mark_text(fontSize=12, cursor="pointer").encode(
        text=alt.Text("count:Q", format="d"), color=ink.otherwise(alt.value("#222222"))
    )
    title = alt.Title(
        f"Confusion matrix: {n:,} {what}, {k}-crop average",
        subtitle="Click a cell to see its digits. Off the diagonal: the mistakes.",
    )
    # pad: width and height are the plot's own, so the cells stay square (Streamlit's default, fit, shrinks the
    # plot to make room for the axes and legend). Show it with `width="content"`.
    return (rect + text).properties(title=title, width=SIDE, height=SIDE, autosize=alt.AutoSizeParams(type="pad"))


def selected_cell(event: Any) -> tuple[int, int] | None:
    """(true, predicted) of the clicked confusion cell from Streamlit's chart event, or None when nothing is selected.

    Streamlit returns `{"selection": {"cell": [{"true": 3, "predicted": 5}]}}` after a click (a read-only dict
    that also allows attribute access), and `{"selection": {"cell": {}}}` before one or after a clear.
    """
    selection = _get(event, "selection")
    points = _get(selection, CELL)
    if isinstance(points, Mapping):  # a raw Vega point-selection value rather than Streamlit's list of points
        points = _get(_get(points, "vlPoint"), "or") or ([points] if "true" in points else [])
    if not isinstance(points, list | tuple) or not points:
        return None
    point = points[-1]
    try:
        return _digit(_get(point, "true")), _digit(_get(point, "predicted"))
    except (TypeError, ValueError):
        return None


def _get(container: Any, key: str) -> Any:
    if isinstance(container, Mapping):
        return container.get(key)
    return getattr(container, key, None)


def _digit(value: Any) -> int:
    if isinstance(value, list | tuple):  # Vega can report a field's values as a list
        value = value[0]
    digit = int(float(value))
    if not 0 <= digit <= 9:
        raise ValueError(f"not a digit: {value!r}")
    return digit


def per_class_frame(evaluation: TestEvaluation) -> pd.DataFrame:
    """One row per true digit: accuracy (recall), number of test images and mistakes."""
    counts = evaluation.confusion
    images = counts.sum(axis=1)
    return pd.DataFrame(
        {
            "digit": np.arange(len(counts)),
            "accuracy": evaluation.per_class_accuracy,
            "images": images,
            "errors": images - np.diag(counts),
        }
    )


@cache
def per_class_spec(floor: float) -> dict:
    """Vega-Lite spec (no data) of per-class accuracy bars, the axis starting at `floor`."""
    return spec_without_data(_per_class(pd.DataFrame(), floor))


def per_class_chart(evaluation: TestEvaluation) -> alt.LayerChart:
    frame = per_class_frame(evaluation)
    return _per_class(frame, accuracy_floor(frame["accuracy"]))


def accuracy_floor(accuracies: pd.Series | np.ndarray) -> float:
    """A bar axis start a little below the lowest accuracy, in whole per cent, so small gaps show."""
    finite = np.asarray(accuracies, dtype=float)
    finite = finite[np.isfinite(finite)]
    lowest = finite.min() if finite.size else 0.0
    return float(max(0.0, np.floor(lowest * 100 - 0.5) / 100))


def _per_class(frame: pd.DataFrame, floor: float) -> alt.LayerChart:
    base = alt.Chart(frame).encode(
        x=alt.X("digit:O", title="true digit", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("accuracy:Q", title="accuracy", scale=alt.Scale(domain=[floor, 1.0]), axis=alt.Axis(format=".1%")),
        tooltip=[
            alt.Tooltip("digit:O", title="digit"),
            alt.Tooltip("accuracy:Q", format=".2%"),
            alt.Tooltip("images:Q", title="test images", format=","),
            alt.Tooltip("errors:Q", title="mistakes"),
        ],
    )
    # clip: the bars start at 0, below the zoomed axis.
    bars = base.mark_bar(color="#4c78a8", clip=True)
    labels = base.mark_text(dy=-6, fontSize=11).encode(text=alt.Text("accuracy:Q", format=".1%"))
    return (bars + labels).properties(title="Accuracy per digit", height=280)


def crop_study_frame(study: CropStudy) -> pd.DataFrame:
    """The study's rows plus the centre crop alone at every k (drawn as a flat dashed line)."""
    frame = study.frame()
    centre = pd.DataFrame(
        {
            "method": CENTRE,
            "k": sorted(frame["k"].unique()),
            "accuracy": study.centre,
            "errors": round(study.n * (1 - study.centre)),
        }
    )
    return pd.concat([frame, centre], ignore_index=True)


@cache
def crop_study_spec(n: int) -> dict:
    """Vega-Lite spec (no data) of accuracy against crops per prediction on n test images."""
    return spec_without_data(_crop_study(pd.DataFrame(), n))


def crop_study_chart(study: CropStudy) -> alt.Chart:
    return _crop_study(crop_study_frame(study), study.n)


def _crop_study(frame: pd.DataFrame, n: int) -> alt.Chart:
    colours = alt.Scale(domain=list(METHODS), range=["#4c78a8", "#f58518", "#7f7f7f"])
    dashes = alt.Scale(domain=list(METHODS), range=[[1, 0], [1, 0], [5, 4]])
    # The same legend on colour and dash merges them into one, where the centre crop's line shows dashed.
    legend = alt.Legend(orient="bottom", symbolType="stroke", symbolStrokeWidth=3)
    return (
        alt.Chart(frame)
        .mark_line(point=alt.OverlayMarkDef(filled=True, size=60))
        .encode(
            x=alt.X("k:O", title="crops averaged per prediction (k)", axis=alt.Axis(labelAngle=0)),
            # zero=False: the methods differ by tenths of a per cent near 99%.
            y=alt.Y("accuracy:Q", title="test accuracy", scale=alt.Scale(zero=False), axis=alt.Axis(format=".1%")),
            color=alt.Color("method:N", title=None, scale=colours, legend=legend),
            strokeDash=alt.StrokeDash("method:N", title=None, scale=dashes, legend=legend),
            tooltip=[
                alt.Tooltip("method:N"),
                alt.Tooltip("k:O", title="crops"),
                alt.Tooltip("accuracy:Q", format=".2%"),
                alt.Tooltip("errors:Q", title="mistakes", format=","),
            ],
        )
        .properties(title=f"Accuracy against crops averaged ({n:,} test images)", height=300)
    )
