"""The layer editor's table: conversion, per-row validation, summaries and limits (no Keras needed but for counts)."""

from __future__ import annotations

import math

import pytest

from mnist_core.model.architecture import (
    CONVNETJS,
    LARGE,
    MAX_ACTIVATIONS,
    MAX_PARAMETERS,
    MAX_STRIDE,
    ArchitectureError,
    build_model,
    core_of,
    parameter_count,
    summarize,
    validate_layers,
)
from mnist_core.model.layer_table import COLUMNS, layers_from_rows, table_rows
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


# --- issue 15: hostile layer lists (snapshots) and cells (the editor) ---
CONV3 = {"type": "conv", "filters": 4, "kernel": 3, "stride": 1, "padding": "same", "activation": "relu"}


def _spec_errors(layers) -> list[str]:
    with pytest.raises(ArchitectureError) as caught:
        validate_layers(layers)
    return caught.value.errors


@pytest.mark.parametrize(
    ("layers", "expected"),
    [
        ([{"type": "flatten"}, {"type": "dropout", "rate": False}, SOFTMAX], "row 2: dropout rate must be a number"),
        ([{"type": "flatten", "units": 10}, SOFTMAX], "row 1: flatten has no field 'units'"),
        ([{**CONV3, "filters": True}, {"type": "flatten"}, SOFTMAX], "row 1: conv filters must be a whole number"),
        ([{**CONV3, "padding": 5}, {"type": "flatten"}, SOFTMAX], "row 1: conv padding must be one of"),
        ([{**CONV3, "bias": "yes"}, {"type": "flatten"}, SOFTMAX], "row 1: conv has no field 'bias'"),
        ([{"type": "flatten"}, {"type": "dropout", "rate": "0.3"}, SOFTMAX], "row 2: dropout rate must be a number"),
        ([{"type": "flatten"}, {"type": "dropout"}, SOFTMAX], "row 2: dropout is missing its rate"),
        ([{"type": ["conv"]}, SOFTMAX], "row 1: unknown layer type"),
        (["conv", SOFTMAX], "row 1: a layer must be an object"),
    ],
)  # fmt: skip
def test_fields_of_the_wrong_type_or_extra_fields_are_refused_by_row(layers, expected):
    """Issue 15: a dropout rate of false or a flatten with units passed, then broke the Inside page's editor."""
    errors = _spec_errors(layers)
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize("stride", [2**31, 2**63, 10**300, 10**5000], ids=["2^31", "2^63", "10^300", "10^5000"])
@pytest.mark.parametrize("kind", ["conv", "maxpool"])
def test_numbers_that_fit_python_but_not_the_kernels_are_refused_by_row(kind, stride):
    """Issue 15: a stride of 2^31, 2^63 or 1e300 passed validation and failed inside Keras (int32)."""
    first = {**CONV3, "stride": stride} if kind == "conv" else {"type": "maxpool", "size": 2, "stride": stride}
    errors = _spec_errors([first, {"type": "flatten"}, SOFTMAX])
    assert any(e.startswith("row 1:") and "stride" in e for e in errors), errors
    cell = float(stride) if stride < 10**308 else "1e300"  # as the editor's number column hands them over
    cells = _errors([{**table_rows([first])[0], "stride": cell}, _row(type="flatten"), _row(**SOFTMAX)])
    assert any(e.startswith("row 1:") and "stride" in e for e in cells), cells


@pytest.mark.parametrize(
    ("spec", "field"),
    [({**CONV3, "filters": 2**40}, "filters"), ({**CONV3, "kernel": 2**63}, "kernel"),
     ({"type": "dense", "units": 2**63, "activation": "relu"}, "units")],
)  # fmt: skip
def test_filters_units_and_kernels_are_bounded_by_what_the_input_allows(spec, field):
    layers = [spec, SOFTMAX] if spec["type"] == "dense" else [spec, {"type": "flatten"}, SOFTMAX]
    if spec["type"] == "dense":
        layers.insert(0, {"type": "flatten"})
    errors = _spec_errors(layers)
    assert any(field in e and e.startswith(f"row {1 + (spec['type'] == 'dense')}:") for e in errors), errors


def test_a_stride_larger_than_its_input_is_refused_with_the_row():
    layers = [{"type": "maxpool", "size": 2, "stride": 2}, {**CONV3, "stride": 13}, {"type": "flatten"}, SOFTMAX]
    assert "row 2: conv stride 13 is larger than its 12x12 input" in _spec_errors(layers)


@pytest.mark.parametrize("cell", [10**400, "1e400", -(10**400)], ids=["10^400", "1e400 text", "-10^400"])
def test_numbers_that_overflow_a_float_are_refused_as_out_of_range(cell):
    rows = [_row(type="conv", filters=cell, size=3, stride=1, padding="same", activation="relu"),
            _row(type="flatten"), _row(**SOFTMAX)]  # fmt: skip
    errors = _errors(rows)
    assert any(e.startswith("row 1: conv filters") and "out of range" in e for e in errors), errors


@pytest.mark.parametrize("kernel", [25, 150, 500, 999, 2234])
@pytest.mark.parametrize("padding", ["same", "valid"])
def test_windows_larger_than_their_input_are_refused_whatever_the_padding(kernel, padding):
    """Issue 15: a 500x500 'same' conv on the 24x24 input was accepted; one step took 42-44 s."""
    layers = [{**CONV3, "kernel": kernel, "padding": padding}, {"type": "flatten"}, SOFTMAX]
    errors = _spec_errors(layers)
    assert any(e.startswith(f"row 1: {kernel}x{kernel} convolution on a 24x24 input") for e in errors), errors
    assert any("row 1:" in e for e in _errors(table_rows(layers)))


def test_bool_cells_are_not_numbers():
    rows = [_row(type="flatten"), _row(type="dropout", rate=True), _row(type="dense", units=True, activation="relu"),
            _row(**SOFTMAX)]  # fmt: skip
    errors = _errors(rows)
    assert any(e.startswith("row 2: dropout rate") for e in errors), errors
    assert any(e.startswith("row 3: dense units") for e in errors), errors


def test_table_rows_hold_only_the_editor_columns_with_their_types():
    """What reaches the editor's columns is a number or None in number columns, text or None in text columns."""
    rows = table_rows(LARGE)
    numbers = ("filters", "units", "size", "stride", "rate")
    assert all(set(r) == set(COLUMNS) for r in rows)
    assert all(isinstance(r[c], (int, float)) and not isinstance(r[c], bool) for r in rows for c in numbers if r[c])


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("stride", [25, 30, 1000])
def test_a_stride_beyond_the_input_is_kept_when_the_window_covers_it(padding, stride):
    """Issue 29: a 24x24 kernel with stride 30 on the 24x24 input was refused, though its output is 1x1 as with 24."""
    import numpy as np

    first = {"type": "conv", "filters": 4, "kernel": 24, "stride": stride, "padding": padding, "activation": "relu"}
    layers = [first, {"type": "flatten"}, SOFTMAX]
    validate_layers(layers)
    assert layers_from_rows(table_rows(layers)) == layers
    model = build_model(layers)
    assert model(np.zeros((2, 28, 28), np.uint8)).shape == (2, 10)
    pooled = [{"type": "maxpool", "size": 24, "stride": stride}, {"type": "flatten"}, SOFTMAX]
    validate_layers(pooled)


def test_a_stride_beyond_the_input_is_still_refused_when_it_skips_input_or_overflows():
    """Only a window that covers the input makes the stride harmless; beyond MAX_STRIDE it is refused all the same."""
    partial = {"type": "conv", "filters": 4, "kernel": 5, "stride": 30, "padding": "valid", "activation": "relu"}
    assert any("row 1: conv stride 30 is larger" in e for e in _spec_errors([partial, {"type": "flatten"}, SOFTMAX]))
    huge = {**partial, "kernel": 24, "stride": MAX_STRIDE + 1}
    assert any(e.startswith("row 1:") and "stride" in e for e in _spec_errors([huge, {"type": "flatten"}, SOFTMAX]))
