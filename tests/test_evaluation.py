"""Test-set evaluation: confusion matrix, per-class accuracy, mistakes, the crop study and their charts."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
from streamlit.elements.vega_charts import VegaLiteStateSerde

from mnist_core.charts import evaluation as charts
from mnist_core.inspection.evaluation import (
    CENTRE,
    GRID,
    RANDOM,
    CropStudy,
    StudyRow,
    TestEvaluation,
    _chunk_seed,
    _crop_probabilities,
    confusion_matrix,
    crop_study,
    evaluate,
)
from mnist_core.model.crop import grid_offsets, random_offsets
from mnist_core.model.predict import CropPrediction


def fake_predict(images, k, seed=None, grid=False):
    """A deterministic stand-in for InferenceModel.predict: each crop's vote depends on the image and its offset.

    Pixel (14, 14) holds the true label; row 0 adds per-image noise, so some crops (and images) are read wrong.
    """
    n = len(images)
    offsets = grid_offsets(n, k) if grid else random_offsets(n, k, np.random.default_rng(seed))
    truth = (np.arange(10) == images[:, 14, 14, None] % 10)[:, None, :]
    noise = np.sin(images[:, None, 0, :10] * 0.37 + 3 * offsets[..., :1] + 5 * offsets[..., 1:])
    logits = 1.2 * truth + noise
    per_crop = np.exp(logits) / np.exp(logits).sum(axis=2, keepdims=True)
    return CropPrediction(per_crop.mean(axis=1), per_crop, offsets)


def fake_images(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n)
    images[:, 14, 14] = labels
    return images, labels


def hand_made() -> TestEvaluation:
    """Six images: (true, predicted, confidence) below; classes 3-9 have no image."""
    cases = [(0, 0, 0.9), (0, 1, 0.6), (1, 1, 0.7), (1, 1, 0.95), (2, 0, 0.8), (0, 1, 0.99)]
    probabilities = np.array([[(1 - conf) / 9] * 10 for _, _, conf in cases])
    for row, (_, predicted, conf) in enumerate(cases):
        probabilities[row, predicted] = conf
    return TestEvaluation(probabilities, np.array([true for true, _, _ in cases]), k=4)


@pytest.fixture(scope="module")
def pretrained():
    from mnist_core.snapshots.pretrained import load_pretrained

    return load_pretrained().model


# --- the confusion matrix and a hand-made evaluation ---


def test_confusion_matrix_counts_true_rows_against_predicted_columns():
    matrix = confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 1, 1], classes=3)
    np.testing.assert_array_equal(matrix, [[1, 0, 0], [0, 1, 1], [0, 1, 1]])
    assert confusion_matrix([], [], classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="true labels"):
        confusion_matrix([0, 1], [0])
    with pytest.raises(ValueError, match="0..9"):
        confusion_matrix([0, 10], [0, 1])


def test_evaluation_properties_on_hand_made_probabilities():
    e = hand_made()
    np.testing.assert_array_equal(e.predicted, [0, 1, 1, 1, 0, 1])
    np.testing.assert_allclose(e.confidence, [0.9, 0.6, 0.7, 0.95, 0.8, 0.99])
    assert e.accuracy == 0.5 and e.errors == 3 and len(e) == 6
    assert e.confusion[0, 0] == 1 and e.confusion[0, 1] == 2 and e.confusion[1, 1] == 2 and e.confusion[2, 0] == 1
    assert e.confusion.sum() == 6
    per_class = e.per_class_accuracy
    np.testing.assert_allclose(per_class[:3], [1 / 3, 1.0, 0.0])
    assert np.isnan(per_class[3:]).all()


def test_cells_and_mistakes_come_most_confident_first():
    e = hand_made()
    np.testing.assert_array_equal(e.cell(1, 1), [3, 2])
    np.testing.assert_array_equal(e.cell(0, 1), [5, 1])
    assert e.cell(5, 5).size == 0
    np.testing.assert_array_equal(e.confident_mistakes(), [5, 4, 1])
    np.testing.assert_array_equal(e.confident_mistakes(2), [5, 4])


# --- evaluate ---


def test_evaluate_calls_predict_in_chunks_with_a_seed_each():
    images, labels = fake_images(5000)
    calls, fractions = [], []

    def spy(batch, k, seed=None, grid=False):
        calls.append((len(batch), k, seed, grid))
        return fake_predict(batch, k, seed=seed, grid=grid)

    e = evaluate(spy, images, labels, k=3, seed=1, progress=fractions.append, chunk=2000)
    assert [c[0] for c in calls] == [2000, 2000, 1000]
    assert {c[1] for c in calls} == {3} and not any(c[3] for c in calls)
    assert len({c[2] for c in calls}) == 3  # a fresh seed per chunk
    assert fractions == [0.4, 0.8, 1.0]
    assert e.probabilities.shape == (5000, 10) and e.k == 3
    # Chunk by chunk, the rows are the chunk's own predictions in order.
    np.testing.assert_allclose(
        e.probabilities[2000:4000], fake_predict(images[2000:4000], 3, seed=calls[1][2]).probabilities
    )
    assert evaluate(fake_predict, images, labels, 3, seed=1).accuracy == e.accuracy  # seeded: repeatable
    assert 0 <= evaluate(fake_predict, images, labels, 3, seed=None).accuracy <= 1  # unseeded: fresh crops
    with pytest.raises(ValueError, match="labels"):
        evaluate(fake_predict, images, labels[:10], 3)


def test_evaluate_the_pretrained_net_on_2000_test_images(mnist, pretrained):
    images, labels = mnist.test.x[:2000], mnist.test.y[:2000]
    fractions = []
    e = evaluate(pretrained.predict, images, labels, k=4, progress=fractions.append, chunk=700)
    assert 0.985 <= e.accuracy <= 1.0  # 99.17% on the full test set
    assert e.confusion.sum() == 2000
    assert np.trace(e.confusion) == int((e.predicted == labels).sum()) == 2000 - e.errors
    assert fractions[-1] == 1.0 and fractions == sorted(fractions)
    one_call = pretrained.predict(images, 4, seed=0).probabilities.argmax(axis=1)
    assert abs(e.accuracy - (one_call == labels).mean()) < 0.005  # other crops, same network
    mistakes = e.confident_mistakes(5)
    assert (e.predicted[mistakes] != labels[mistakes]).all()
    assert (np.diff(e.confidence[mistakes]) <= 0).all()


# --- the crop study ---


@pytest.mark.parametrize("k", [16, 30])
def test_every_position_table_gives_predicts_own_crops(k):
    """For k >= 13 both sets of crops are looked up in one run of all 25 positions; it must match predict."""
    images, _ = fake_images(40)
    sampled, grid = _crop_probabilities(fake_predict, images, k, seed=5)
    np.testing.assert_allclose(sampled, fake_predict(images, k, seed=5).per_crop, rtol=1e-12)
    np.testing.assert_allclose(grid, fake_predict(images, k, grid=True).per_crop, rtol=1e-12)


def _accuracy(per_crop: np.ndarray, labels: np.ndarray) -> float:
    return float((per_crop.mean(axis=1).argmax(axis=1) == labels).mean())


@pytest.mark.parametrize("ks", [(1, 2, 4, 8, 16), (1, 3, 6)])
def test_crop_study_accuracies_are_prefix_averages(ks):
    images, labels = fake_images(600)
    fractions = []
    study = crop_study(fake_predict, images, labels, ks=ks, seed=2, progress=fractions.append, chunk=600)
    most = max(ks)
    random_crops = fake_predict(images, most, seed=_chunk_seed(2, 0)).per_crop
    grid_crops = fake_predict(images, most, grid=True).per_crop
    for k in ks:
        assert study.accuracy(RANDOM, k) == pytest.approx(_accuracy(random_crops[:, :k], labels))
        assert study.accuracy(GRID, k) == pytest.approx(_accuracy(fake_predict(images, k, grid=True).per_crop, labels))
        assert study.accuracy(GRID, k) == pytest.approx(_accuracy(grid_crops[:, :k], labels))
    assert study.centre == study.accuracy(GRID, 1)
    assert fractions == [1.0]
    frame = study.frame()
    assert list(frame.columns) == ["method", "k", "accuracy", "errors"]
    assert len(frame) == 2 * len(ks)
    assert (frame.errors == np.round(600 * (1 - frame.accuracy))).all()


def test_crop_study_on_500_real_test_images(mnist, pretrained):
    images, labels = mnist.test.x[:500], mnist.test.y[:500]
    fractions = []
    study = crop_study(pretrained.predict, images, labels, progress=fractions.append, chunk=200)
    centre = pretrained.predict(images, 1, grid=True).labels
    assert study.centre == pytest.approx((centre == labels).mean(), abs=1 / 500)
    assert study.accuracy(GRID, 1) == study.centre
    frame = study.frame()
    assert set(frame.method) == {RANDOM, GRID} and sorted(set(frame.k)) == [1, 2, 4, 8, 16]
    assert frame.accuracy.between(0, 1).all() and frame.accuracy.min() > 0.95
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) == 3
    assert study.n == 500 and study.seconds > 0


def test_crop_study_rejects_bad_crop_counts():
    images, labels = fake_images(10)
    with pytest.raises(ValueError, match="positive"):
        crop_study(fake_predict, images, labels, ks=(0, 4))


# --- charts ---


def test_confusion_frame_has_every_cell():
    e = evaluate(fake_predict, *fake_images(800), k=2)
    frame = charts.confusion_frame(e)
    assert len(frame) == 100
    assert frame["count"].sum() == 800
    assert (frame.correct == (frame.true == frame.predicted)).all()
    assert frame.loc[frame.correct, "count"].sum() == 800 - e.errors
    np.testing.assert_allclose(frame.groupby("true").share.sum(), 1.0)
    assert (frame.loc[frame.correct, "mistakes"] == 0).all()
    row = frame[(frame.true == 3) & (frame.predicted == 5)].iloc[0]
    assert row["count"] == e.confusion[3, 5]


def test_confusion_chart_has_the_cell_selection():
    e = hand_made()
    spec = charts.confusion_chart(e).to_dict()
    params = {p["name"]: p for p in spec["params"]}
    assert params["cell"]["select"]["type"] == "point"
    assert params["cell"]["select"]["fields"] == ["true", "predicted"]
    rect, text = spec["layer"]
    assert rect["mark"]["type"] == "rect" and text["mark"]["type"] == "text"
    assert rect["encoding"]["x"]["field"] == "predicted" and rect["encoding"]["y"]["field"] == "true"
    assert spec["width"] == spec["height"]
    data_free = charts.confusion_spec(4, 6)
    assert "data" not in data_free and "datasets" not in data_free
    assert data_free["params"][0]["name"] == "cell"
    assert charts.confusion_spec(4, 6) is data_free  # built once


def test_per_class_and_crop_study_charts_build():
    e = hand_made()
    frame = charts.per_class_frame(e)
    assert len(frame) == 10 and frame.images.sum() == 6 and frame.errors.sum() == 3
    assert charts.per_class_chart(e).to_dict()["layer"][0]["mark"]["type"] == "bar"
    assert charts.accuracy_floor(np.array([0.993, 0.982, np.nan])) == pytest.approx(0.97)
    assert "data" not in charts.per_class_spec(0.97)
    rows = tuple(
        StudyRow(m, k, 0.99 - 0.001 * k, round(1000 * (0.01 + 0.001 * k))) for m in (RANDOM, GRID) for k in (1, 4)
    )
    study = CropStudy(rows, centre=0.985, n=1000, seconds=1.0)
    frame = charts.crop_study_frame(study)
    assert len(frame) == 6 and set(frame.method) == {RANDOM, GRID, CENTRE}
    assert (frame.loc[frame.method == CENTRE, "accuracy"] == 0.985).all()
    spec = charts.crop_study_chart(study).to_dict()
    assert spec["encoding"]["y"]["scale"]["zero"] is False
    assert "data" not in charts.crop_study_spec(1000)


def _streamlit_event(payload: dict | None):
    """The event Streamlit 1.67 returns from st.altair_chart(..., on_select="rerun"), built by its own serde."""
    return VegaLiteStateSerde(["cell"]).deserialize(None if payload is None else json.dumps(payload))


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (_streamlit_event(None), None),  # before any click
        (_streamlit_event({"selection": {"cell": {}}}), None),  # after a double-click clears it
        (_streamlit_event({"selection": {"cell": [{"true": 3, "predicted": 5}]}}), (3, 5)),
        ({"selection": {"cell": [{"true": 1, "predicted": 7}, {"true": 4, "predicted": 9}]}}, (4, 9)),
        (SimpleNamespace(selection=SimpleNamespace(cell=[{"true": 2.0, "predicted": "8"}])), (2, 8)),
        ({"selection": {"cell": {"true": [6], "predicted": [0]}}}, (6, 0)),  # a raw Vega selection value
        ({"selection": {"cell": {"vlPoint": {"or": [{"true": 5, "predicted": 3}]}}}}, (5, 3)),
        ({"selection": {"cell": [{"true": 12, "predicted": 1}]}}, None),
        ({"selection": {"cell": [{"predicted": 1}]}}, None),
        ({"selection": {}}, None),
        (None, None),
    ],
)
def test_selected_cell_reads_streamlit_events(event, expected):
    assert charts.selected_cell(event) == expected


def test_streamlit_event_allows_attribute_access():
    event = _streamlit_event({"selection": {"cell": [{"true": 3, "predicted": 5}]}})
    assert event.selection.cell == [{"true": 3, "predicted": 5}]
