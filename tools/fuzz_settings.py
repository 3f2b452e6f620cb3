"""Fuzz the settings boundary: `python -m tools.fuzz_settings --examples N` prints one JSON object.

Four kinds of input, N of each: settings dicts (what the sidebar and a snapshot hand to validate_settings), link
query strings (read_link, then the widget state and the link written back), Compare-page contestant tables
(validate_contestants on the ConvNetJS net, then check_race) and run store settings (the store's environment
variables and a `[connections.runs]` secrets table of any shape, through store_config into a RunStore). Their
values are hostile: ints far beyond a float, NaN and inf as numbers and as text, bools, None, lists, dicts, bytes,
Decimals, fractions, numpy scalars and arrays, unicode digits, long and control-character text, URLs with odd
ports, drivers and characters. The property: valid settings (every number inside its field's range; a usable
store) or the module's own error (SettingsError, a notice, a flagged row, the store's problem) whose message
names the field or setting and is short; never another exception; within CPU_SECONDS of CPU and PEAK_MB of
traced allocations per input. Store settings are never opened: no file is made and no server is called.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any

import numpy as np
from hypothesis import given
from hypothesis import seed as fixed_seed
from hypothesis import strategies as st

from mnist_core.model.architecture import PRESETS
from mnist_core.settings import FIELDS, OPTIMIZERS, SettingsError, TrainSettings, validate_settings
from mnist_core.store import RunRecord, RunStore, StoreError, store_config
from mnist_core.store.config import ENV_VAR, LIMIT_SPECS, MAX_SHOWN_CHARS, SECRETS_SOURCE, URL_PARTS, Limits
from mnist_core.training.contestants import COLUMNS, MAX_CONTESTANTS, Contestant, check_race, validate_contestants
from tools.fuzzing import fuzz_arguments, long_run, within_bounds
from ui.query_settings import PARAMS, link_params, read_link, widget_state

CPU_SECONDS = 2.0  # per input: far more than any input needs, so only a runaway fails
PEAK_MB = 16  # traced allocations per input, beyond the input itself
MAX_MESSAGE_CHARS = 400  # a message quotes at most 40 characters of a value
LABELS = {**{name: spec.label for name, spec in FIELDS.items()}, "optimizer": "Optimizer", "preset": "Network"}
LAYERS = PRESETS["convnetjs"]

# --- hostile values ---

_NUMERIC_TEXT = st.from_regex(r"\A\s?[+-]?\d{0,45}(\.\d{0,45})?([eE][+-]?\d{1,4})?\s?\Z")
_SPECIAL_TEXT = st.sampled_from(
    [
        "nan",
        "NaN",
        "-nan",
        "inf",
        "-Infinity",
        "1e400",
        "-1e400",
        "1e-400",
        "0x10",
        "1_000",
        "",
        " ",
        "\x00",
        "٣",
        "１２８",
        "²",
        "0.5\n",
        "1,5",
        "∞",
        "None",
        "true",
    ]  # fmt: skip
)
_HUGE_INTS = st.builds(lambda n, sign: sign * 10**n, st.integers(300, 6000), st.sampled_from([1, -1]))
_NUMBERS = st.one_of(
    st.integers(),
    _HUGE_INTS,
    st.floats(),
    st.decimals(),
    st.fractions(),
    st.builds(lambda n: Fraction(10**n, 3), st.integers(300, 400)),
    st.builds(np.float32, st.floats(width=32)),
    st.builds(np.int64, st.integers(-(2**63), 2**63 - 1)),
)
_OTHERS = st.one_of(
    st.none(),
    st.booleans(),
    st.builds(np.bool_, st.booleans()),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.builds(lambda x: np.array([x]), st.floats()),
    st.builds(complex, st.floats(), st.floats()),
    st.just(Decimal("sNaN")),
)
_TEXT = st.one_of(_NUMERIC_TEXT, _SPECIAL_TEXT, st.text(max_size=60), st.text(st.characters(categories=["Nd"])))
VALUES = st.one_of(_NUMBERS, _TEXT, _OTHERS, st.builds(lambda n: "9" * n, st.integers(30, 5000)))
_NAMES = st.one_of(st.sampled_from([*OPTIMIZERS, *PRESETS, "custom", "ADAM "]), VALUES)

SETTINGS_DICTS = st.dictionaries(
    st.sampled_from([*FIELDS, "optimizer", "preset", "unknown"]), st.one_of(VALUES, _NAMES), max_size=14
)
QUERIES = st.dictionaries(
    st.one_of(st.sampled_from(list(PARAMS)), st.text(max_size=5)),
    st.one_of(_TEXT, st.lists(_TEXT, max_size=3), st.sampled_from([*OPTIMIZERS, *PRESETS, "custom"])),
    max_size=16,
)
_ROW = st.fixed_dictionaries(
    {},
    optional={
        "name": st.one_of(st.text(max_size=50), VALUES),
        "optimizer": _NAMES,
        **{column: VALUES for column in COLUMNS[2:]},
    },
)
TABLES = st.lists(st.one_of(_ROW, _ROW, _ROW, VALUES), max_size=MAX_CONTESTANTS + 4)

_SCHEMES = st.sampled_from(["sqlite", "postgresql", "postgresql+psycopg", "mysql", "mssql+pyodbc", "nosuch", ""])
_URL_PIECES = st.one_of(_TEXT, st.sampled_from(["", "u", "u:pw", "%00", "%2F", "h:5432", "h:0", "h:99999999", "h:x"]))
_URLS = st.builds(
    lambda scheme, who, host, db, query: f"{scheme}://{who}@{host}/{db}{query}",
    _SCHEMES,
    _URL_PIECES,
    _URL_PIECES,
    _URL_PIECES,
    st.sampled_from(["", "?timeout=x", "?check_same_thread=maybe", "?sslmode=off", "?a=1&a=2", "?%00=1"]),
)
_STORE_SPECIAL = st.sampled_from(
    ["://", "sqlite://", "sqlite:///:memory:", "postgresql://u@h:99999999/db", "mysql://u@h/db", "~/runs.sqlite",
     "~no-such-user/runs.sqlite", "runs\x00.sqlite", "\udcff.sqlite", "é://x", "a.b.c://x"]
)  # fmt: skip
_LONG = st.builds(lambda piece, n: piece * n, st.sampled_from(["9", "x", "é/", "sqlite:///"]), st.integers(30, 10_000))
STORE_TEXT = st.one_of(_TEXT, _URLS, _STORE_SPECIAL, _LONG)
STORE_VARS = [ENV_VAR, *(spec.var for spec in LIMIT_SPECS)]
STORE_ENVS = st.dictionaries(st.sampled_from(STORE_VARS), STORE_TEXT, max_size=len(STORE_VARS))
_SECRET_VALUES = st.one_of(
    VALUES, STORE_TEXT, st.dictionaries(st.text(max_size=5), st.one_of(_TEXT, st.lists(_TEXT, max_size=2)), max_size=2)
)
_SECRET_TABLES = st.dictionaries(
    st.one_of(st.sampled_from(["url", "dialect", "driver", *URL_PARTS, "type"]), st.text(max_size=5)),
    _SECRET_VALUES,
    max_size=6,
)
STORE_SETTINGS = st.tuples(STORE_ENVS, st.one_of(st.none(), _SECRET_TABLES, _SECRET_TABLES, VALUES))


# --- the properties ---


def _in_range(name: str, value: Any) -> bool:
    spec = FIELDS[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    if spec.integer and not isinstance(value, int):
        return False
    low = value > spec.low if spec.low_open else value >= spec.low
    high = value < spec.high if spec.high_open else value <= spec.high
    return low and high


def _valid_settings(s: TrainSettings) -> None:
    assert s.optimizer.name in OPTIMIZERS and s.preset in PRESETS, s
    assert set(s.optimizer.params) == set(OPTIMIZERS[s.optimizer.name].fields), s
    for name, value in [*s.optimizer.params.items(), *((k, getattr(s, k)) for k in FIELDS if hasattr(s, k))]:
        assert _in_range(name, value), (name, value)


def _named(errors: dict[str, str]) -> None:
    assert errors, "an error without a field"
    for field, message in errors.items():
        assert field in LABELS, field
        assert message.startswith(LABELS[field] + ":") or LABELS[field] in message, (field, message)
        assert len(message) <= MAX_MESSAGE_CHARS, (field, len(message))


def check_settings(raw: dict[str, Any]) -> None:
    """validate_settings: valid settings, or SettingsError naming each bad field."""
    try:
        result = validate_settings(raw, PRESETS)
    except SettingsError as exc:
        _named(exc.errors)
        return
    _valid_settings(result)


def check_link(query: dict[str, Any]) -> None:
    """read_link: valid values (they pass validate_settings) and one short notice per ignored parameter."""
    link = read_link(query)
    for notice in link.notices:
        name = notice.removeprefix("Ignored ").split("=")[0]
        assert notice.startswith("Ignored ") and name in PARAMS, notice
        assert len(notice) <= MAX_MESSAGE_CHARS and notice.isprintable(), notice
    _valid_settings(validate_settings(link.values, PRESETS))
    widget_state(link.values)
    link_params(validate_settings(link.values, PRESETS))


def check_table(rows: list[Any]) -> None:
    """validate_contestants: every row races or is flagged with a short message; check_race a message or None."""
    contestants, errors = validate_contestants(rows, LAYERS)
    assert len(contestants) + len(errors) == len(rows), (len(contestants), errors)
    assert set(errors) <= set(range(len(rows))) and len(contestants) <= MAX_CONTESTANTS
    assert len({c.name for c in contestants}) == len(contestants)
    for message in errors.values():
        assert message and len(message) <= MAX_MESSAGE_CHARS * 3, message  # one message per bad field
    for c in contestants:
        assert isinstance(c, Contestant) and c.name and isinstance(c.name, str)
        for name, value in [
            *c.optimizer.params.items(),
            ("batch_size", c.batch_size),
            ("weight_decay", c.weight_decay),
        ]:
            assert _in_range(name, value), (c.name, name, value)
    problem = check_race(contestants, LAYERS) if contestants else None
    assert problem is None or isinstance(problem, str)


_RECORD = RunRecord(
    owner="browser-fuzz", kind="train", name="fuzz", status="finished", settings=TrainSettings(),
    layers=LAYERS, curves="{}", test_accuracy=None, validation_accuracy=None, final_loss=None, examples_seen=1,
    epochs=1, train_seconds=1.0, wall_seconds=1.0,
)  # fmt: skip


def _readable(message: str, limit: int) -> None:
    assert isinstance(message, str) and 0 < len(message) <= limit, message[:300]
    message.encode("utf-8")  # a lone surrogate cannot reach the page


def check_store(settings: tuple[dict[str, str], Any]) -> None:
    """store_config and a RunStore from it: a usable store, or a problem naming the setting; limits in range.

    The store is never opened; where the settings name none, a save is held and the store's reads refuse.
    """
    env, secrets = settings
    config = store_config(env, secrets)
    store = RunStore(config.url, config.limits, retry_seconds=0, unusable=config.problem, notes=config.notes)
    for spec, value in zip(LIMIT_SPECS, (config.limits.per_browser, config.limits.total, config.limits.weights_bytes)):
        scale = 2**20 if spec.var.endswith("_MB") else 1
        assert spec.low * scale <= value <= spec.high * scale and value % scale == 0, (spec.var, value)
    assert len(config.notes) <= len(LIMIT_SPECS) and store.notes == config.notes
    for note in config.notes:
        _readable(note, MAX_MESSAGE_CHARS)
        assert any(note.startswith(spec.var + "=") for spec in LIMIT_SPECS) and note.isprintable(), note
    if config.problem is None:
        assert config.url is not None and store.problem is None, config
        _readable(store.location, MAX_SHOWN_CHARS)
        return
    source = ENV_VAR if env.get(ENV_VAR, "").strip() else SECRETS_SOURCE
    assert config.url is None and config.problem.startswith(source), (source, config.problem)
    _readable(config.problem, MAX_MESSAGE_CHARS * 2)
    assert store.save(_RECORD) is None and store.check() == store.problem and store.problem.startswith(config.problem)
    try:
        store.runs("browser-fuzz")
    except StoreError as exc:
        assert str(exc) == config.problem
    else:
        raise AssertionError("a store the settings do not name answered a read")


@cache
def _warm_store() -> None:
    """Import every dialect SQLAlchemy ships, and the installed drivers, once: an import is not an input's cost."""
    for scheme in ("sqlite", "postgresql", "mysql", "mssql", "oracle", "nosuch"):
        store_config({ENV_VAR: f"{scheme}://h/db"}, None)
    Limits.from_env({})


KINDS: dict[str, tuple[Callable[[Any], None], st.SearchStrategy]] = {
    "settings": (check_settings, SETTINGS_DICTS),
    "link": (check_link, QUERIES),
    "table": (check_table, TABLES),
    "store": (check_store, STORE_SETTINGS),
}
WARM: dict[str, Callable[[], None]] = {"store": _warm_store}


def outcome(kind: str, value: Any) -> dict[str, Any] | None:
    """None when `value` meets the property for `kind`, else what went wrong."""
    check = KINDS[kind][0]
    if kind in WARM:
        WARM[kind]()
    return within_bounds(lambda: check(value), CPU_SECONDS, PEAK_MB)[1]


def _shown(value: Any) -> str:
    try:
        return repr(value)[:200]
    except Exception:  # noqa: BLE001 - a 5,000-digit int has no repr
        return f"<{type(value).__name__}>"


def fuzz(examples: int, seed: int | None = None) -> dict[str, Any]:
    """Try `examples` inputs of each kind; every failure, not only the first."""
    start = time.monotonic()
    tried, failures = {}, []
    for kind in KINDS:
        tried[kind] = _fuzz_kind(kind, examples, seed, failures)
    return {
        "tried": tried,
        "failures": failures,
        "failure_count": len(failures),
        "seconds": round(time.monotonic() - start, 1),
    }


def _fuzz_kind(kind: str, examples: int, seed: int | None, failures: list[dict[str, Any]]) -> int:
    tried = 0

    @long_run(examples, seed)
    @given(KINDS[kind][1])
    def attempt(value: Any) -> None:
        nonlocal tried
        tried += 1
        found = outcome(kind, value)
        if found is not None:
            failures.append({"kind": kind, "input": _shown(value), **found})

    (fixed_seed(seed)(attempt) if seed is not None else attempt)()
    return tried


def main(argv: list[str] | None = None) -> None:
    parser = fuzz_arguments(__doc__.splitlines()[0], "inputs of each kind")
    args = parser.parse_args(argv)
    print(json.dumps(fuzz(args.examples, args.seed), indent=1))


if __name__ == "__main__":
    main()
