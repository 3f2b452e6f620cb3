"""Altair charts of stored runs overlaid: one colour per run, a legend that highlights a run on click."""

from __future__ import annotations

from functools import cache

import altair as alt
import pandas as pd

from mnist_core.charts.training import spec_without_data
from mnist_core.store.curves import series

OVERLAY_METRICS = {
    "loss": ("Training loss", "cross-entropy (smoothed)", ".4f", ".2f"),
    "test_accuracy": ("Test accuracy (k crops; a race's: first 2,000 test images)", "accuracy", ".2%", ".1%"),
}


def overlay_frame(curves: dict[str, dict]) -> pd.DataFrame:
    """Long-form rows (run, metric, examples_seen, value) from each run's stored curves, keyed by the run's label."""
    rows = [
        {"run": label, "metric": metric, "examples_seen": x, "value": y}
        for label, stored in curves.items()
        for metric, points in series(stored).items()
        if metric in OVERLAY_METRICS
        for x, y in points
    ]
    return pd.DataFrame(rows, columns=["run", "metric", "examples_seen", "value"])


@cache
def overlay_spec(metric: str, labels: tuple[str, ...]) -> dict:
    """Vega-Lite spec (no data) of one metric of several runs against examples seen; filters the frame to `metric`."""
    title, y_title, fmt, axis_format = OVERLAY_METRICS[metric]
    pick = alt.selection_point(fields=["run"], bind="legend", name="pick")
    legend = alt.Legend(orient="bottom", columns=2, title="click to highlight", labelLimit=320)
    chart = (
        alt.Chart(pd.DataFrame())
        .transform_filter(alt.datum.metric == metric)
        .mark_line(point=metric != "loss", interpolate="monotone")
        .encode(
            x=alt.X("examples_seen:Q", title="examples seen", axis=alt.Axis(format="~s")),
            y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False), axis=alt.Axis(format=axis_format)),
            color=alt.Color("run:N", scale=alt.Scale(domain=list(labels)), legend=legend),
            opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
            tooltip=[
                alt.Tooltip("run:N"),
                alt.Tooltip("value:Q", title=y_title, format=fmt),
                alt.Tooltip("examples_seen:Q", title="examples seen", format=","),
            ],
        )
        .add_params(pick)
        .properties(title=title, height=360)
    )
    return spec_without_data(chart)
