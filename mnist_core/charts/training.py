"""Altair charts of a training run's metrics against examples seen.

The page redraws these every second while a job trains. Altair's validation of a spec with its data
costs ~75 ms of GIL-holding Python per chart, which slows the training thread in the same process, so
each spec is built once with Altair (without data) and the page passes the data frame next to it.
"""

from __future__ import annotations

from functools import cache

import altair as alt
import pandas as pd

from mnist_core.charts.scales import LOSS_FLOOR, accuracy_y, error_field, goal_rule, loss_y
from mnist_core.training.run_state import RunView

HEIGHT = 380
MAX_DRAWN_POINTS = 300  # per live series: enough for a smooth line, cheap to redraw each second
LOSS_SERIES = ("training loss (smoothed)", "L2 decay loss", "validation loss")
LABEL_GAP = 15  # pixels between the lines of the last-value list
_LOSS_FIELDS = {"loss": LOSS_SERIES[0], "l2_loss": LOSS_SERIES[1]}, {"validation_loss": LOSS_SERIES[2]}


def accuracy_series(crops: int, own: bool = False) -> tuple[str, ...]:
    """The accuracy chart's series; `own`: with the held-out part of the run's extra digits (own_accuracy)."""
    names = ("training (smoothed)", "validation", f"test, {crops}-crop average", "test, centre crop")
    return (*names, "handwriting, held out") if own else names


def loss_frame(snap: RunView) -> pd.DataFrame:
    return _long(snap, *_LOSS_FIELDS)


def accuracy_frame(snap: RunView) -> pd.DataFrame:
    own = chart_own(snap)
    names = accuracy_series(chart_crops(snap), own)
    live = {"train_accuracy": names[0]}
    per_epoch = {"validation_accuracy": names[1], "test_accuracy_crops": names[2], "test_accuracy_center": names[3]}
    if own:
        per_epoch["own_accuracy"] = names[4]
    frame = _long(snap, live, per_epoch)
    return frame[frame["value"].notna()].reset_index(drop=True) if own else frame


@cache
def loss_spec() -> dict:
    """Vega-Lite spec (no data) of the loss chart."""
    return spec_without_data(_loss_chart(pd.DataFrame()))


@cache
def accuracy_spec(crops: int, own: bool = False) -> dict:
    """Vega-Lite spec (no data) of the accuracy chart (`own`: with the held-out handwriting's line)."""
    return spec_without_data(_accuracy_chart(crops, pd.DataFrame(), own))


def loss_chart(snap: RunView) -> alt.LayerChart:
    """The loss chart with its data, as one Altair object (for notebooks and tests)."""
    return _loss_chart(loss_frame(snap))


def accuracy_chart(snap: RunView) -> alt.LayerChart:
    return _accuracy_chart(chart_crops(snap), accuracy_frame(snap), chart_own(snap))


def _loss_chart(frame: pd.DataFrame) -> alt.LayerChart:
    """Loss on a log scale: the smoothed training loss falls over two decades, the rest is its tail."""
    base = alt.Chart(frame).transform_filter(f"datum.value > {LOSS_FLOOR}")
    return _chart(base, "Loss", loss_y("value", "loss"), ".4f", LOSS_SERIES, LOSS_SERIES[2:])


def _accuracy_chart(crops: int, frame: pd.DataFrame, own: bool = False) -> alt.LayerChart:
    """Accuracy as a log-scaled error rate (mnist_core.charts.scales), the 99% goal drawn."""
    names = accuracy_series(crops, own)
    error, expression = error_field("value")
    base = alt.Chart(frame).transform_calculate(**{error: expression})
    title = "Accuracy (the gap to 100%, on a log scale)"
    lines = _chart(base, title, accuracy_y(error), ".2%", names, names[1:], corner="bottom")
    layers = [*lines.layer, *goal_rule(base).layer]  # one flat layer list, the frame at its top as in the others
    return alt.layer(*layers, data=frame).properties(title=lines.title, height=HEIGHT)


def chart_crops(snap: RunView) -> int:
    """The k of the latest evaluation (it names a series of the accuracy chart)."""
    return snap.last_epoch.crops if snap.last_epoch else 4


def chart_own(snap: RunView) -> bool:
    """Whether the run reads held-out digits of its own (an epoch record has own_accuracy)."""
    return any(record.own_accuracy is not None for record in snap.history)


def _long(snap: RunView, live: dict[str, str], per_epoch: dict[str, str]) -> pd.DataFrame:
    """Long-form rows (examples_seen, series, value, epoch) from progress points and epoch records."""
    step = max(1, -(-len(snap.progress) // MAX_DRAWN_POINTS))
    points = list(snap.progress[::step])
    if snap.progress and points[-1] is not snap.progress[-1]:
        points.append(snap.progress[-1])  # always draw up to the newest point
    rows = [(p.examples_seen, name, getattr(p, field), p.epoch) for p in points for field, name in live.items()]
    for r in snap.history:
        rows += [(r.examples_seen, name, getattr(r, field), float(r.epoch)) for field, name in per_epoch.items()]
    return pd.DataFrame(rows, columns=["examples_seen", "series", "value", "epoch"])


def spec_without_data(chart: alt.TopLevelMixin) -> dict:
    """The chart's Vega-Lite spec with its (empty) data removed: the page passes a frame beside it."""
    spec = chart.to_dict()
    spec.pop("data", None)
    spec.pop("datasets", None)
    return spec


def _chart(
    base: alt.Chart,
    title: str,
    y: alt.Y,
    fmt: str,
    order: tuple[str, ...],
    marked: tuple[str, ...],
    corner: str = "top",
) -> alt.LayerChart:
    """One line per series; `marked` series (one value per epoch) also get a dot per value.

    Each series' last value is listed in its colour in the plot's right `corner` ("top" or "bottom"), one line
    each: the lines end close together (validation and test after an epoch), so labels at their ends overlap.
    """
    legend = alt.Legend(orient="bottom", columns=2)
    color = alt.Color("series:N", title=None, sort=list(order), scale=alt.Scale(domain=list(order)), legend=legend)
    tooltip = [
        alt.Tooltip("series:N", title="series"),
        alt.Tooltip("value:Q", title=title.split()[0].lower(), format=fmt),
        alt.Tooltip("examples_seen:Q", title="examples seen", format=","),
        alt.Tooltip("epoch:Q", title="epoch", format=".2f"),
    ]
    x = alt.X("examples_seen:Q", title="examples seen", axis=alt.Axis(format="~s"))
    lines = base.encode(x=x, y=y, color=color, tooltip=tooltip)
    dots = lines.mark_point(filled=True, size=45).transform_filter(alt.FieldOneOfPredicate("series", list(marked)))
    names, shorts, top = list(order), [_short(name) for name in order], corner == "top"
    label_style = dict(align="right", baseline="top" if top else "bottom", dx=-6, dy=6 if top else -6, fontSize=12,
                       fontWeight="bold")  # fmt: skip
    last = (
        lines.transform_joinaggregate(last_seen="max(examples_seen)", groupby=["series"])
        .transform_filter("datum.examples_seen == datum.last_seen")
        .transform_calculate(
            last_label=f"{shorts}[indexof({names}, datum.series)] + ' ' + format(datum.value, '{fmt}')",
            order=f"indexof({names}, datum.series)",
        )
        .transform_window(line="rank()", sort=[alt.SortField("order", order="ascending" if top else "descending")])
        .transform_calculate(label_offset=f"{'' if top else '-'}{LABEL_GAP} * (datum.line - 1)")
        .mark_text(**label_style)
        .encode(
            text="last_label:N",
            x=alt.value("width"),
            y=alt.value(0 if top else "height"),
            yOffset=alt.YOffset("label_offset:Q", scale=None),
        )
    )
    # A white outline under each label, so that a line passing behind it does not cross its letters.
    halo = last.mark_text(**label_style, stroke="white", strokeWidth=4, strokeJoin="round")
    return (lines.mark_line(interpolate="monotone") + dots + halo + last).properties(title=title, height=HEIGHT)


def _short(series: str) -> str:
    """A series name cut for its last-value label ("test, 4-crop" for "test, 4-crop average")."""
    return series.replace(" (smoothed)", "").replace(" average", "").replace(" loss", "").replace("L2 decay", "L2")


def probability_frame(probabilities) -> pd.DataFrame:
    """One row per class with its averaged probability; the winner flagged for highlighting."""
    winner = int(max(range(10), key=lambda c: probabilities[c]))
    return pd.DataFrame(
        {
            "digit": [str(c) for c in range(10)],
            "probability": [float(p) for p in probabilities],
            "pick": ["prediction" if c == winner else "other" for c in range(10)],
        }
    )


@cache
def probability_spec(crops: int) -> dict:
    """Vega-Lite spec (no data) of the averaged class probabilities as bars, the winner highlighted."""
    colour = alt.Color(
        "pick:N", scale=alt.Scale(domain=["prediction", "other"], range=["#2e9e4f", "#9aa5b1"]), legend=None
    )
    chart = (
        alt.Chart(pd.DataFrame())
        .mark_bar()
        .encode(
            x=alt.X("digit:N", title="digit", sort=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("probability:Q", title=f"average of {crops} crops", scale=alt.Scale(domain=[0, 1])),
            color=colour,
            tooltip=[alt.Tooltip("digit:N"), alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=200)
    )
    return spec_without_data(chart)
