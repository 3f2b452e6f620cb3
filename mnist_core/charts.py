"""Altair charts of a training run's metrics against examples seen."""

from __future__ import annotations

import altair as alt
import pandas as pd

from mnist_core.live_state import Snapshot

HEIGHT = 260
_X = alt.X("examples_seen:Q", title="examples seen", axis=alt.Axis(format="~s"))


def _long(snap: Snapshot, live: dict[str, str], per_epoch: dict[str, str]) -> pd.DataFrame:
    """Long-form rows (examples_seen, series, value, epoch) from progress points and epoch records."""
    rows = []
    for p in snap.progress:
        rows += [(p.examples_seen, name, getattr(p, field), p.epoch) for field, name in live.items()]
    for r in snap.history:
        rows += [(r.examples_seen, name, getattr(r, field), float(r.epoch)) for field, name in per_epoch.items()]
    return pd.DataFrame(rows, columns=["examples_seen", "series", "value", "epoch"])


def _lines(frame: pd.DataFrame, title: str, y_title: str, fmt: str, order: list[str]) -> alt.LayerChart:
    color = alt.Color(
        "series:N", title=None, sort=order, scale=alt.Scale(domain=order), legend=alt.Legend(orient="bottom", columns=2)
    )
    tooltip = [
        alt.Tooltip("series:N", title="series"),
        alt.Tooltip("value:Q", title=y_title, format=fmt),
        alt.Tooltip("examples_seen:Q", title="examples seen", format=","),
        alt.Tooltip("epoch:Q", title="epoch", format=".2f"),
    ]
    base = alt.Chart(frame).encode(
        x=_X, y=alt.Y("value:Q", title=y_title, scale=alt.Scale(zero=False)), color=color, tooltip=tooltip
    )
    return (base.mark_line(interpolate="monotone") + base.mark_point(filled=True, size=40)).properties(
        title=title, height=HEIGHT
    )


def loss_chart(snap: Snapshot) -> alt.LayerChart:
    order = ["training loss (smoothed)", "L2 decay loss", "validation loss"]
    frame = _long(snap, {"loss": order[0], "l2_loss": order[1]}, {"validation_loss": order[2]})
    chart = _lines(frame, "Loss", "loss", ".4f", order)
    return chart.transform_filter(alt.datum.series != "") if frame.empty else chart


def accuracy_chart(snap: Snapshot) -> alt.LayerChart:
    crops = snap.last_epoch.crops if snap.last_epoch else 4
    order = ["training (smoothed)", "validation", f"test, {crops}-crop average", "test, centre crop"]
    frame = _long(
        snap,
        {"train_accuracy": order[0]},
        {"validation_accuracy": order[1], "test_accuracy_crops": order[2], "test_accuracy_center": order[3]},
    )
    return _lines(frame, "Accuracy", "accuracy", ".2%", order)
