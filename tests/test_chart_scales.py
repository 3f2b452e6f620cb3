"""The Train page's charts show what matters once a network is good: 97% and 99% apart, the 99% goal, last values."""

import math

from mnist_core.charts.race import race_spec
from mnist_core.charts.scales import ERROR_DOMAIN, GOAL
from mnist_core.charts.training import accuracy_spec, loss_spec


def _layers(spec: dict, mark: str) -> list[dict]:
    return [layer for layer in spec["layer"] if layer["mark"]["type"] == mark]


def _height_share(low: float, high: float) -> float:
    """The share of the chart's height between two accuracies on the accuracy axis (log of the error rate)."""
    top, bottom = ERROR_DOMAIN[1], ERROR_DOMAIN[0]
    return math.log10((1 - low) / (1 - high)) / math.log10(bottom / top)


def test_accuracy_is_drawn_as_a_log_scaled_error_rate_labelled_as_accuracy():
    spec = accuracy_spec(4)
    line = _layers(spec, "line")[0]
    y = line["encoding"]["y"]
    assert y["scale"]["type"] == "log"
    assert y["scale"]["domain"][0] > y["scale"]["domain"][1]  # the larger error at the bottom: better is higher
    assert {"calculate": "max(1 - datum['value'], 0.001)", "as": y["field"]} in line["transform"]
    assert 0.03 in y["axis"]["values"] and 0.01 in y["axis"]["values"]
    assert y["axis"]["labelExpr"].startswith("format(1 - datum.value")  # ticks read as accuracy
    assert _height_share(0.97, 0.99) > 0.2  # 97% and 99% a fifth of the chart apart, not a flat line at the top


def test_the_99_percent_goal_is_drawn_and_labelled():
    spec = accuracy_spec(4)
    rule = _layers(spec, "rule")[0]
    goal = next(step for step in rule["transform"] if step.get("as") == "goal")
    assert math.isclose(float(goal["calculate"]), 1 - GOAL)
    assert rule["encoding"]["y"]["field"] == "goal" and rule["encoding"]["y"]["scale"]["type"] == "log"
    labels = [layer for layer in _layers(spec, "text") if layer["encoding"]["text"]["field"] == "label"]
    assert labels and {"calculate": "'99% goal'", "as": "label"} in labels[0]["transform"]
    assert {"aggregate": [{"op": "count", "as": "rows"}]} in rule["transform"]  # one rule, from the page's data


def test_each_series_last_value_is_labelled():
    for spec in (accuracy_spec(4), loss_spec()):
        last = next(layer for layer in _layers(spec, "text") if layer["encoding"]["text"]["field"] == "last_label")
        steps = last["transform"]
        assert any(step.get("joinaggregate") and step.get("groupby") == ["series"] for step in steps)
        assert {"filter": "datum.examples_seen == datum.last_seen"} in steps
        assert last["encoding"]["color"]["field"] == "series"


def test_loss_is_on_a_log_scale_without_zeros():
    line = _layers(loss_spec(), "line")[0]
    assert line["encoding"]["y"]["scale"]["type"] == "log"
    assert any("datum.value >" in str(step.get("filter", "")) for step in line["transform"])


def test_the_race_charts_use_the_same_axes():
    names = ("Adam", "SGD")
    accuracy = race_spec("validation_accuracy", "examples_seen", names)
    assert accuracy["encoding"]["y"]["scale"]["type"] == "log"
    assert accuracy["encoding"]["y"]["field"] == "validation_accuracy_error"
    assert race_spec("loss", "examples_seen", names)["encoding"]["y"]["scale"]["type"] == "log"
