"""Altair charts of an optimizer race: one line per contestant, a shared legend that highlights on click."""

from __future__ import annotations

from functools import cache

import altair as alt
import pandas as pd

from mnist_core.charts.scales import RACE_ERROR_DOMAIN, accuracy_y, error_field, loss_y
from mnist_core.charts.training import spec_without_data

METRICS = {
    "loss": ("Training loss", "cross-entropy (smoothed)", ".4f"),
    "validation_accuracy": ("Validation accuracy", "accuracy", ".2%"),
    "test_accuracy": ("Test accuracy (k crops, first 2,000 test images)", "accuracy", ".2%"),
}
X_AXES = {"examples_seen": ("examples seen", "~s"), "train_seconds": ("training seconds", ".0f")}


def race_frame(points: dict) -> pd.DataFrame:
    """Long-form rows (contestant, examples_seen, train_seconds, metric values) from a RaceView's points."""
    rows = [
        {
            "contestant": name,
            "examples_seen": p.examples_seen,
            "train_seconds": p.train_seconds,
            "loss": p.loss,
            "validation_accuracy": p.validation_accuracy,
            "test_accuracy": p.test_accuracy,
        }
        for name, series in points.items()
        for p in series
    ]
    return pd.DataFrame(rows, columns=["contestant", "examples_seen", "train_seconds", *METRICS])


@cache
def race_spec(metric: str, x_field: str, names: tuple[str, ...]) -> dict:
    """Vega-Lite spec (no data) of one metric against examples seen or training seconds."""
    title, y_title, fmt = METRICS[metric]
    x_title, x_format = X_AXES[x_field]
    pick = alt.selection_point(fields=["contestant"], bind="legend", name="pick")
    legend = alt.Legend(orient="bottom", columns=4, title="click to highlight")
    base = alt.Chart(pd.DataFrame())
    if metric == "loss":
        y = loss_y(metric, y_title)
    else:  # accuracies: the gap to 100% on a log scale, as on the Train page
        error, expression = error_field(metric)
        base = base.transform_calculate(**{error: expression})
        y = accuracy_y(error, domain=RACE_ERROR_DOMAIN)
    chart = (
        base.mark_line(point=True, interpolate="monotone")
        .encode(
            x=alt.X(f"{x_field}:Q", title=x_title, axis=alt.Axis(format=x_format)),
            y=y,
            color=alt.Color("contestant:N", scale=alt.Scale(domain=list(names)), legend=legend),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
            tooltip=[
                alt.Tooltip("contestant:N"),
                alt.Tooltip(f"{metric}:Q", title=y_title, format=fmt),
                alt.Tooltip("examples_seen:Q", title="examples seen", format=","),
                alt.Tooltip("train_seconds:Q", title="training seconds", format=".1f"),
            ],
        )
        .add_params(pick)
        .properties(title=title, height=380)
    )
    return spec_without_data(chart)
