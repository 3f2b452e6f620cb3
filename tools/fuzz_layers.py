"""Fuzz the layer boundary: `python -m tools.fuzz_layers --examples N` prints one JSON object.

Two kinds of input, N of each: layer lists (what a snapshot's manifest hands to validate_layers) and layer-editor
tables (what the editor hands to layers_from_rows). Rows are random and hostile: unknown and missing types,
fields of the wrong type (bools, text, lists, objects, nesting), extra fields, ints far beyond a float, 2^31 and
2^63, NaN and inf, and plausible networks mutated one field at a time. The property: ArchitectureError whose
every message names its row (or is about the whole network) and is short, or a valid network, which the editor
shows and gives back unchanged and whose step memory is estimated; never another exception; within CPU_SECONDS of
CPU and PEAK_MB of traced allocations per input. With `--build K`, the first K valid networks of each kind are
also built and trained one step in Keras (the kernels' own limits: int32 strides and sizes).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st

from mnist_core.data.geometry import CROP_SIZE
from mnist_core.model.architecture import (
    ACTIVATIONS,
    LAYER_FIELDS,
    MAX_ACTIVATIONS,
    MAX_LAYERS,
    MAX_PARAMETERS,
    PADDINGS,
    PRESETS,
    ArchitectureError,
    LayerRow,
    summarize,
)
from mnist_core.model.budget import check_step_memory, model_memory_bytes, step_memory_bytes
from mnist_core.model.layer_table import COLUMNS, layers_from_rows, table_rows
from tools.fuzzing import fuzz_arguments, long_run, within_bounds

CPU_SECONDS = 2.0  # per input; each takes well under a millisecond
PEAK_MB = 16  # traced allocations per input, beyond the input itself
MAX_MESSAGE_CHARS = 400  # a message quotes at most 40 characters of a value
_ROW_MESSAGE = re.compile(r"row (\d+): ")
_NETWORK_MESSAGES = ("The network ", "The layers produce ")

# --- hostile values ---

_HUGE_INTS = st.one_of(
    st.sampled_from([2**31, 2**31 - 1, 2**32, 2**63, 2**63 - 1, 2**64, -(2**31), -(2**63)]),
    st.builds(lambda n, sign: sign * 10**n, st.integers(15, 6000), st.sampled_from([1, -1])),
)
_NUMBERS = st.one_of(
    st.integers(-3, 30),
    st.integers(),
    _HUGE_INTS,
    st.floats(),
    st.sampled_from([1e300, -1e300, 1e308, 2.0**31, 2.0**63, 0.5, 3.0, float("nan"), float("inf")]),
    st.builds(np.int64, st.integers(-(2**63), 2**63 - 1)),
    st.builds(np.float32, st.floats(width=32)),
)
_TEXT = st.one_of(
    st.sampled_from(["", " ", "3", " 5 ", "2.5", "1e400", "-1e400", "inf", "nan", "NaN", "1e300", "0x10", "١٢"]),
    st.sampled_from([*LAYER_FIELDS, *PADDINGS, *ACTIVATIONS, "CONV", " Same ", "lstm", "None", "true"]),
    st.text(max_size=40),
    st.builds(lambda n: "9" * n, st.integers(30, 5000)),
)
_SCALARS = st.one_of(_NUMBERS, _TEXT, st.none(), st.booleans(), st.builds(np.bool_, st.booleans()))
VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=8,
)
_DEEP = st.builds(lambda depth: _nested(depth), st.integers(10, 3000))  # nesting as deep as JSON allows


def _nested(depth: int) -> list:
    value: list = []
    for _ in range(depth):
        value = [value]
    return value


# --- plausible values, so that valid networks and near-misses turn up too ---

_GOOD = {
    "filters": st.integers(1, 24),
    "units": st.integers(1, 64),
    "kernel": st.integers(1, 7),
    "size": st.integers(1, 4),
    "stride": st.integers(1, 3),
    "padding": st.sampled_from(PADDINGS),
    "activation": st.sampled_from(ACTIVATIONS),
    "rate": st.floats(0, 0.9),
}
_SOFTMAX = {"type": "dense", "units": 10, "activation": "softmax"}


@st.composite
def _spec(draw: Callable, hostile: float = 0.15) -> dict[str, Any]:
    """A layer spec of a known type, each field plausible or (now and then) hostile, sometimes missing or extra."""
    kind = draw(st.sampled_from(list(LAYER_FIELDS)))
    spec: dict[str, Any] = {"type": kind}
    for field in LAYER_FIELDS[kind]:
        if draw(st.floats(0, 1)) < hostile / 3:
            continue  # missing
        spec[field] = draw(VALUES) if draw(st.floats(0, 1)) < hostile else draw(_GOOD[field])
    if draw(st.floats(0, 1)) < hostile:
        spec[draw(st.sampled_from([*_GOOD, "type ", "bias", ""]))] = draw(VALUES)  # extra (or replaced)
    return spec


@st.composite
def _plausible_network(draw: Callable, hostile: float = 0.15) -> list[dict[str, Any]]:
    """Image layers, a flatten, dense layers, the softmax: mostly valid, with hostile fields now and then."""
    image = draw(st.lists(_spec(hostile).filter(lambda s: s["type"] not in ("dense", "flatten")), max_size=5))
    dense = draw(st.lists(_spec(hostile).filter(lambda s: s["type"] in ("dense", "dropout")), max_size=2))
    return [*image, {"type": "flatten"}, *dense, dict(_SOFTMAX)]


_RAW_SPEC = st.dictionaries(
    st.one_of(st.sampled_from(["type", *_GOOD]), st.text(max_size=6)), VALUES, max_size=len(_GOOD) + 2
)
LAYER_LISTS = st.one_of(
    _plausible_network(0.0),
    _plausible_network(),
    _plausible_network(0.5),
    st.lists(st.one_of(_spec(), _spec(0.6), _RAW_SPEC, VALUES, _DEEP), max_size=8),
    st.lists(_spec(0.0), min_size=MAX_LAYERS - 1, max_size=MAX_LAYERS + 3),
    st.sampled_from([[], None, "conv", 5, {"type": "conv"}, [[[]]]]),
    st.builds(lambda preset, row, field, value: _mutated(PRESETS[preset], row, field, value),
              st.sampled_from(list(PRESETS)), st.integers(0, 7), st.sampled_from(["type", *_GOOD, "extra"]), VALUES),
)  # fmt: skip


def _mutated(layers: list[dict[str, Any]], row: int, field: str, value: Any) -> list[dict[str, Any]]:
    """A preset with one field of one row replaced (or added)."""
    copy = [dict(spec) for spec in layers]
    copy[row % len(copy)][field] = value
    return copy


def _as_table(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Editor rows for a list of specs, kernels in the size column, whatever their values."""
    rows = []
    for spec in layers:
        row = dict.fromkeys(COLUMNS)
        for key, value in spec.items() if isinstance(spec, dict) else ():
            row["size" if key == "kernel" else key] = value
        rows.append(row)
    return rows


_CELL = st.one_of(VALUES, st.builds(str, st.integers(-3, 30)), st.floats(0, 30))
_ROW = st.fixed_dictionaries({}, optional={column: _CELL for column in COLUMNS})
TABLES = st.one_of(
    st.builds(_as_table, _plausible_network(0.0)),
    st.builds(_as_table, _plausible_network()),
    st.builds(_as_table, _plausible_network(0.5)),
    st.lists(st.one_of(_ROW, _ROW, VALUES), max_size=8),
    st.lists(_ROW, min_size=MAX_LAYERS - 1, max_size=MAX_LAYERS + 3),
)

# --- the properties ---


def _named(errors: list[str], rows: int) -> None:
    """Every message names a row of the network (1..rows) or is about the whole network, and is short."""
    assert errors, "an ArchitectureError without messages"
    for message in errors:
        assert isinstance(message, str) and len(message) <= MAX_MESSAGE_CHARS, message[:500]
        named = _ROW_MESSAGE.match(message)
        assert (named and 1 <= int(named.group(1)) <= rows) or message.startswith(_NETWORK_MESSAGES), message


def _valid_network(layers: list[dict[str, Any]], summary: list[LayerRow]) -> None:
    """A valid network: typed fields in their ranges, within the limits, shown by the editor and given back."""
    for spec in layers:
        assert set(spec) == {"type", *LAYER_FIELDS[spec["type"]]}, spec
        for field, value in spec.items():
            if field in ("filters", "units", "kernel", "size", "stride"):
                assert type(value) is int and 1 <= value <= MAX_ACTIVATIONS, spec
            if field in ("kernel", "size", "stride"):
                assert value <= CROP_SIZE, spec  # within int32 and the network's input
            if field == "rate":
                assert type(value) in (int, float) and 0 <= value < 1, spec
    assert sum(r.parameters for r in summary) <= MAX_PARAMETERS
    assert sum(int(np.prod(r.output_shape)) for r in summary) <= MAX_ACTIVATIONS
    assert layers_from_rows(table_rows(layers)) == layers  # the Inside page's editor takes any valid network
    assert step_memory_bytes(layers, 4096) > step_memory_bytes(layers, 1) > 0 and model_memory_bytes(layers) > 0
    problem = check_step_memory(layers, 4096)
    assert problem is None or problem.startswith("Batch size 4,096 is too large")


def check_layers(layers: Any) -> list[dict[str, Any]] | None:
    """validate_layers (through summarize): a valid network, or ArchitectureError naming rows; the network if valid."""
    try:
        summary = summarize(layers)
    except ArchitectureError as exc:
        _named(exc.errors, len(layers) if isinstance(layers, list) else 0)
        return None
    _valid_network(layers, summary)
    return layers


def check_table(rows: list[Any]) -> list[dict[str, Any]] | None:
    """layers_from_rows: a valid network, or ArchitectureError naming rows; the network if valid."""
    try:
        layers = layers_from_rows(rows)
    except ArchitectureError as exc:
        _named(exc.errors, len(rows))
        return None
    _valid_network(layers, summarize(layers))
    return layers


KINDS: dict[str, tuple[Callable[[Any], Any], st.SearchStrategy]] = {
    "layers": (check_layers, LAYER_LISTS),
    "table": (check_table, TABLES),
}


def outcome(kind: str, value: Any) -> tuple[dict[str, Any] | None, Any]:
    """(None, the valid network or None) when `value` meets the property for `kind`, else (what went wrong, None)."""
    check = KINDS[kind][0]
    network, problem = within_bounds(lambda: check(value), CPU_SECONDS, PEAK_MB)
    return problem, network


def train_one_step(layers: list[dict[str, Any]]) -> None:
    """Build the network in Keras and train it one step on two images (raises whatever Keras raises)."""
    from mnist_core.model.architecture import build_model

    model = build_model(layers)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    images = np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    loss = model.train_on_batch(images, np.array([3, 7]))
    assert np.isfinite(loss), loss


def _shown(value: Any) -> str:
    try:
        return repr(value)[:200]
    except Exception:  # noqa: BLE001 - a 5,000-digit int or a 3,000-deep list has no repr
        return f"<{type(value).__name__}>"


def fuzz(examples: int, seed: int | None = None, build: int = 0) -> dict[str, Any]:
    """Try `examples` inputs of each kind, and train up to `build` valid networks of each; every failure."""
    start = time.monotonic()
    tried, valid, built, failures = {}, {}, {}, []
    for kind in KINDS:
        networks: list[list[dict[str, Any]]] = []
        tried[kind] = _fuzz_kind(kind, examples, seed, failures, networks)
        valid[kind] = len(networks)
        built[kind] = 0
        for layers in networks[:build]:
            try:
                train_one_step(layers)
            except Exception as exc:  # noqa: BLE001 - a valid network Keras cannot train is the failure looked for
                failures.append({"kind": f"{kind} in keras", "input": _shown(layers), "error": f"{exc!r}"[:300]})
            built[kind] += 1
    return {
        "tried": tried,
        "valid": valid,
        "trained_in_keras": built,
        "failures": failures,
        "failure_count": len(failures),
        "seconds": round(time.monotonic() - start, 1),
    }


def _fuzz_kind(kind: str, examples: int, seed: int | None, failures: list, networks: list) -> int:
    tried = 0

    @long_run(examples, seed)
    @given(KINDS[kind][1])
    def attempt(value: Any) -> None:
        nonlocal tried
        tried += 1
        found, network = outcome(kind, value)
        if found is not None:
            failures.append({"kind": kind, "input": _shown(value), **found})
        elif network is not None and network not in networks:
            networks.append(network)

    (fixed_seed(seed)(attempt) if seed is not None else attempt)()
    return tried


def main(argv: list[str] | None = None) -> None:
    parser = fuzz_arguments(__doc__.splitlines()[0], "inputs of each kind")
    parser.add_argument("--build", type=int, default=0, help="valid networks of each kind to train in Keras")
    args = parser.parse_args(argv)
    print(json.dumps(fuzz(args.examples, args.seed, args.build), indent=1))


if __name__ == "__main__":
    main()
