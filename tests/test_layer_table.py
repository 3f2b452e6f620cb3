"""The layer editor's table: conversion, per-row validation, summaries and limits (no Keras needed but for counts)."""

from __future__ import annotations

import math

import pytest

from mnist_core.architecture import (
    CONVNETJS,
    LARGE,
    MAX_ACTIVATIONS,
    MAX_PARAMETERS,
    ArchitectureError,
    build_model,
    core_of,
    parameter_count,
    summarize,
)
from mnist_core.layer_table import COLUMNS, layers_from_rows, table_rows
from ui.table_edits import with_edits

SOFTMAX = {"type": "dense", "units": 10, "activation": "softmax"}


def _row(**cells):
    return {**dict.fromkeys(COLUMNS), **cells}


def _errors(rows) -> list[str]:
    with pytest.raises(ArchitectureError) as caught:
        layers_from_rows(rows)
    return caught.value.errors


@pytest.mark.parametrize("layers", [CONVNETJS, LARGE])
def test_presets_round_trip_through_the_table(layers):
    assert layers_from_rows(table_rows(layers)) == layers


def test_editor_cells_become_typed_specs():
    rows = [
        _row(type="Conv", filters=4.0, size="3", stride=1, padding="valid", activation="tanh", units=99),
        _row(type="avgpool", size=2.0, stride=2.0),
        _row(type="batchnorm"),
        _row(type="flatten"),
        _row(type="dropout", rate="0.25"),
        _row(type="dense", units=10.0, activation="softmax"),
    ]
    layers = layers_from_rows(rows)
    assert layers[0] == {"type": "conv", "filters": 4, "kernel": 3, "stride": 1, "padding": "valid",
                         "activation": "tanh"}  # fmt: skip
    assert layers[1] == {"type": "avgpool", "size": 2, "stride": 2}
    assert layers[4] == {"type": "dropout", "rate": 0.25}
    assert isinstance(layers[0]["filters"], int)


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([_row(type="lstm"), _row(**SOFTMAX)], "row 1: layer type is 'lstm'"),
        ([_row(type=None, units=3), _row(**SOFTMAX)], "row 1: layer type is empty"),
        ([_row(type="conv", filters=8, size=5, stride=1, padding="same"), _row(**SOFTMAX)],
         "row 1: conv activation is empty"),
        ([_row(type="conv", filters=2.5, size=5, stride=1, padding="same", activation="relu")],
         "row 1: conv filters must be a whole number, got 2.5"),
        ([_row(type="conv", filters="eight", size=5, stride=1, padding="same", activation="relu")],
         "row 1: conv filters 'eight' is not a number"),
        ([_row(type="maxpool", size=math.nan, stride=2)], "row 1: maxpool size is empty"),
        ([_row(type="maxpool", size=math.inf, stride=2)], "row 1: maxpool size must be a finite number"),
        ([_row(type="conv", filters=-3, size=5, stride=1, padding="same", activation="relu"), _row(**SOFTMAX)],
         "row 1: conv needs a whole number filters of at least 1, got -3"),
        ([_row(type="conv", filters=3, size=5, stride=1, padding="full", activation="relu"), _row(**SOFTMAX)],
         "row 1: conv padding must be one of"),
        ([_row(type="flatten"), _row(type="dropout", rate=1.5), _row(**SOFTMAX)],
         "row 2: dropout rate must be in [0, 1)"),
        ([_row(type="dense", units=10, activation="swish")], "row 1: activation must be one of"),
    ],
)  # fmt: skip
def test_each_kind_of_bad_cell_is_named_by_row(rows, expected):
    assert any(expected in e for e in _errors(rows)), _errors(rows)


def test_every_bad_row_is_listed_not_just_the_first():
    rows = [_row(type="lstm"), _row(type="maxpool", size=0, stride=2), _row(type="dense", units=10)]
    errors = _errors(rows)
    assert [e.split(":")[0] for e in errors] == ["row 1", "row 2", "row 3"]


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([{"type": "maxpool", "size": 2, "stride": 2}] * 4 + [{"type": "maxpool", "size": 3, "stride": 3},
          {"type": "flatten"}, SOFTMAX], "row 5: 3x3 max pooling on a 1x1 input"),
        ([{"type": "conv", "filters": 4, "kernel": 25, "stride": 1, "padding": "valid", "activation": "relu"},
          {"type": "flatten"}, SOFTMAX], "row 1: 25x25 convolution on a 24x24 input"),
        ([{"type": "flatten"}, {"type": "avgpool", "size": 2, "stride": 2}, SOFTMAX],
         "row 2: avgpool needs an image-shaped input"),
        ([{"type": "conv", "filters": 4, "kernel": 3, "stride": 1, "padding": "same", "activation": "relu"}, SOFTMAX],
         "row 2: dense needs a flat input; add a flatten row before it (input is 24x24x4)"),
        ([{"type": "flatten"}, {"type": "dense", "units": 5, "activation": "softmax"}],
         "row 2: the last layer must be dense with 10 units and softmax"),
    ],
)  # fmt: skip
def test_shape_problems_name_their_row(layers, expected):
    assert any(expected in e for e in _errors(table_rows(layers))), _errors(table_rows(layers))


def test_a_network_over_the_parameter_limit_is_refused_with_the_limit():
    layers = [{"type": "flatten"}, {"type": "dense", "units": 9000, "activation": "relu"}, SOFTMAX]
    errors = _errors(table_rows(layers))
    assert any(f"limit on this server is {MAX_PARAMETERS:,}" in e for e in errors)
    assert any("5,283,010 parameters" in e for e in errors)


def test_huge_feature_maps_are_refused_with_the_limit():
    layers = [{"type": "conv", "filters": 1000, "kernel": 1, "stride": 1, "padding": "same", "activation": "relu"},
              {"type": "maxpool", "size": 24, "stride": 24}, {"type": "flatten"}, SOFTMAX]  # fmt: skip
    errors = _errors(table_rows(layers))
    assert any(f"limit on this server is {MAX_ACTIVATIONS:,}" in e for e in errors)


def test_an_empty_table_or_an_empty_row_is_refused():
    assert _errors([]) == ["The network has no layers."]
    assert _errors([_row(**SOFTMAX), _row()])[0].startswith("row 2: layer type is empty")


@pytest.mark.parametrize(
    "layers",
    [
        CONVNETJS,
        LARGE,
        [{"type": "conv", "filters": 4, "kernel": 3, "stride": 2, "padding": "valid", "activation": "tanh"},
         {"type": "batchnorm"}, {"type": "avgpool", "size": 2, "stride": 1}, {"type": "conv", "filters": 6,
         "kernel": 4, "stride": 3, "padding": "same", "activation": "relu"}, {"type": "flatten"},
         {"type": "dropout", "rate": 0.2}, {"type": "dense", "units": 7, "activation": "sigmoid"}, SOFTMAX],
    ],
)  # fmt: skip
def test_summary_matches_keras_shapes_and_counts(layers):
    model = build_model(layers)
    rows = summarize(layers)
    assert parameter_count(layers) == model.count_params()
    keras_shapes = [tuple(layer.output.shape[1:]) for layer in core_of(model).layers]  # Rescaling, then the rows
    assert [r.output_shape for r in rows] == keras_shapes
    assert [r.parameters for r in rows[1:]] == [layer.count_params() for layer in core_of(model).layers[1:]]


def test_editor_state_is_folded_into_the_rows():
    rows = table_rows(CONVNETJS)
    state = {"edited_rows": {0: {"filters": 12}}, "added_rows": [{"type": "dropout", "rate": 0.1}],
             "deleted_rows": [3]}  # fmt: skip
    folded = with_edits(rows, state)
    assert folded[0]["filters"] == 12 and len(folded) == len(rows)
    assert folded[-1] == {**dict.fromkeys(COLUMNS), "type": "dropout", "rate": 0.1}
    assert all(r["type"] != "maxpool" or r["size"] != 3 for r in folded)  # row 4 (the 3x3 pool) deleted
    assert with_edits(rows, None) == rows
