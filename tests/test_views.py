"""Charts, CSV export and the test-digit stream, built from a hand-made snapshot."""

import io

import numpy as np
import pandas as pd

from mnist_core.charts.stream import stream_html
from mnist_core.charts.training import accuracy_chart, loss_chart
from mnist_core.training.export import history_csv
from mnist_core.training.run_state import EpochRecord, ProgressPoint, RunState, StreamPrediction


def _snapshot():
    state = RunState(epochs=2, total_examples=110_000)
    for i in range(1, 5):
        state.add_progress(ProgressPoint(i * 1000, i / 55, 2.3 / i, 0.001, 0.2 * i, i * 0.1))
    state.add_epoch(EpochRecord(1, 55_000, 5.0, 0.3, 0.9, 0.08, 0.975, 0.976, 0.978, 4))
    state.add_predictions(
        [StreamPrediction(0, 7, (7, 1, 2), (0.9, 0.05, 0.01)), StreamPrediction(1, 2, (3, 2, 1), (0.5, 0.4, 0.1))]
    )
    return state.view()


def test_charts_hold_every_series_with_tooltips():
    snap = _snapshot()
    acc = accuracy_chart(snap).to_dict()
    values = pd.DataFrame(acc["datasets"][next(iter(acc["datasets"]))])
    assert set(values.series) == {"training (smoothed)", "validation", "test, 4-crop average", "test, centre crop"}
    assert "tooltip" in acc["layer"][0]["encoding"]
    loss = loss_chart(snap).to_dict()
    loss_values = pd.DataFrame(loss["datasets"][next(iter(loss["datasets"]))])
    assert loss_values[loss_values.series == "validation loss"].value.tolist() == [0.08]


def test_charts_of_an_empty_run_still_build():
    empty = RunState(1, 1).view()
    assert accuracy_chart(empty).to_dict() and loss_chart(empty).to_dict()


def test_history_csv_has_progress_and_epoch_rows_in_order():
    frame = pd.read_csv(io.StringIO(history_csv(_snapshot())))
    assert frame.examples_seen.is_monotonic_increasing
    assert len(frame) == 5
    assert frame.test_accuracy_crops.dropna().tolist() == [0.978]


def test_progress_history_is_bounded_and_keeps_its_span():
    state = RunState(1, 1)
    for i in range(5000):
        state.add_progress(ProgressPoint(i, 0, 1, 0, 0, 0))
    points = state.view().progress
    assert len(points) <= 1000
    assert points[0].examples_seen == 0 and points[-1].examples_seen > 4000


def test_stream_marks_right_green_and_wrong_red():
    images = np.zeros((2, 28, 28), np.uint8)
    page = stream_html(list(_snapshot().recent), images)
    assert page.count('class="mnl-card"') == 2
    first, second = page.split('class="mnl-card"')[1:]
    assert "#2e9e4f" in first.split("mnl-row")[1] and "predicted 7 (right)" in first
    assert "#d62728" in second.split("mnl-row")[1] and "wrong, true 2" in second
    assert "data:image/png;base64," in first


def test_page_specs_carry_no_data_and_match_their_frames():
    from mnist_core.charts.training import accuracy_frame, accuracy_spec, chart_crops, loss_frame, loss_spec

    snap = _snapshot()
    for frame, spec in ((loss_frame(snap), loss_spec()), (accuracy_frame(snap), accuracy_spec(chart_crops(snap)))):
        assert "data" not in spec and "datasets" not in spec
        domain = spec["layer"][0]["encoding"]["color"]["scale"]["domain"]
        assert set(frame.series) <= set(domain)


def test_drawn_points_are_capped_but_reach_the_newest():
    from mnist_core.charts.training import MAX_DRAWN_POINTS, loss_frame

    state = RunState(1, 1)
    for i in range(999):
        state.add_progress(ProgressPoint(i, 0, 1, 0, 0, 0))
    frame = loss_frame(state.view())
    live = frame[frame.series == "training loss (smoothed)"]
    assert len(live) <= MAX_DRAWN_POINTS + 1 and live.examples_seen.max() == 998
