"""The y axes that show what matters once a network is good: accuracy as a log-scaled error rate, loss on a log scale.

Past the first epoch every accuracy is above 97%, so a linear axis from 0 to 100% draws them as one flat line at
the top. On a log scale of the error rate (1 - accuracy), drawn with better at the top and labelled as accuracy,
97% (3% error) and 99% (1% error) sit a fifth of the chart apart, and 99.5% as far above 99% again.
"""

from __future__ import annotations

import altair as alt

GOAL = 0.99
# Error rates shown (clamped to this range): 70% accuracy at the bottom, 99.7% at the top.
ERROR_DOMAIN = (0.3, 0.003)
ERROR_TICKS = (0.9, 0.5, 0.3, 0.2, 0.1, 0.05, 0.03, 0.02, 0.01, 0.005, 0.003)
RACE_ERROR_DOMAIN = (0.9, 0.003)  # a race may stop after a few thousand examples: from 10% accuracy up
ERROR_FLOOR = 0.001  # a smoothed training accuracy of 100% is drawn at the top, not at log(0)
LOSS_FLOOR = 1e-4  # loss values at or below this (an L2 term of 0) are left out of the log axis


def error_field(accuracy_field: str) -> tuple[str, str]:
    """(name, Vega expression) of the error rate computed from an accuracy field."""
    name = f"{accuracy_field}_error"
    return name, f"max(1 - datum['{accuracy_field}'], {ERROR_FLOOR})"


def accuracy_y(error: str, title: str = "accuracy", domain: tuple[float, float] = ERROR_DOMAIN) -> alt.Y:
    """A y encoding of an error-rate field: log scale, lower error higher up, ticks labelled as accuracy."""
    ticks = [tick for tick in ERROR_TICKS if domain[1] <= tick <= domain[0]]
    return alt.Y(
        f"{error}:Q",
        title=title,
        scale=alt.Scale(type="log", domain=list(domain), clamp=True),
        axis=alt.Axis(values=ticks, labelExpr="format(1 - datum.value, '.4~%')"),
    )


def goal_rule(chart: alt.Chart, label: str = "99% goal") -> alt.LayerChart:
    """A dashed line at the 99% accuracy goal (1% error), labelled at its left end, on `chart`'s data.

    The layer aggregates the chart's own rows to one, so the spec needs no data of its own (the page passes
    the frame beside a data-free spec).
    """
    one = chart.transform_aggregate(rows="count()").transform_calculate(goal=f"{1 - GOAL:g}", label=repr(label))
    y = accuracy_y("goal")  # the same scale and axis as the lines, so the layers share one
    rule = one.mark_rule(color="#2e9e4f", strokeDash=[6, 4], strokeWidth=1.5).encode(y=y)
    text = one.mark_text(align="left", baseline="bottom", dx=4, dy=-3, color="#2e9e4f", fontWeight="bold")
    return rule + text.encode(y=y, x=alt.value(0), text="label:N")


def loss_y(field: str, title: str) -> alt.Y:
    """A y encoding of a loss field on a log scale."""
    return alt.Y(f"{field}:Q", title=f"{title} (log scale)", scale=alt.Scale(type="log"))
