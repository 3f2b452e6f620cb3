"""A snapshot's `manifest.json`: bounded JSON parsing and every field checked, naming what is wrong."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from datetime import UTC, datetime
from typing import Any

import numpy as np

from mnist_core.model.architecture import (
    PRESETS,
    ArchitectureError,
    LayerSpec,
    validate_layers,
)
from mnist_core.settings import OPTIMIZERS, SettingsError, TrainSettings, validate_settings
from mnist_core.snapshots.format import (
    CREATED_YEARS,
    CUSTOM_PRESET,
    FORMAT,
    FORMAT_VERSION,
    LATER_SETTINGS,
    MANIFEST,
    MAX_EPOCH_RECORDS,
    MAX_INT_DIGITS,
    MAX_JSON_DEPTH,
    MAX_METRIC,
    MAX_PROGRESS_LOADED,
    NAME_PATTERN,
    TEXT_PATTERN,
    SnapshotError,
    kind_of,
    quote_value,
)
from mnist_core.snapshots.save import thin
from mnist_core.training.run_state import MAX_PROGRESS_POINTS, EpochRecord, ProgressPoint


def parse_json(raw: bytes, label: str) -> Any:
    try:
        text = raw.decode("utf-8")
        if (depth := _json_depth(text)) > MAX_JSON_DEPTH:
            raise _JsonValueError(f"lists and objects are nested {depth:,} deep, more than {MAX_JSON_DEPTH} allowed.")
        return json.loads(
            text,
            parse_constant=_no_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
            object_pairs_hook=_unique_keys,
        )
    except _JsonValueError as exc:
        raise SnapshotError(f"{label}: {exc}") from None
    except UnicodeDecodeError:
        raise SnapshotError(f"{label} is not UTF-8 text.") from None
    except (ValueError, RecursionError):
        raise SnapshotError(f"{label} is not valid JSON.") from None


class _JsonValueError(ValueError):
    pass


# A JSON string, or an unterminated one up to the end: it never fails to match, so re.sub stays linear.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\[\s\S]?[^"\\]*)*(?:"|\Z)')
_OPENING, _CLOSING = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


def _json_depth(text: str) -> int:
    """How deep lists and objects nest in JSON text, found without parsing it (brackets in strings skipped)."""
    codes = np.frombuffer(_JSON_STRING.sub("", text).encode(), np.uint8)
    steps = np.isin(codes, _OPENING).astype(np.int32) - np.isin(codes, _CLOSING)
    return int(np.cumsum(steps).max(initial=0))


def _no_constant(name: str) -> Any:
    raise _JsonValueError(f"{name} is not a number this app accepts (values must be finite).")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _JsonValueError(f"the number {text[:40]} is too large.")
    return value


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _JsonValueError(f"the number {text[:40]}... is too large.")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _JsonValueError("a key appears twice in one object.")
    return result


def check_format(manifest: dict[str, Any]) -> None:
    if manifest.get("format") != FORMAT:
        raise SnapshotError(f"{MANIFEST} is not an MNIST Live snapshot manifest (its format is not '{FORMAT}').")
    version = manifest.get("format_version")
    if not _is_int(version):
        raise SnapshotError(f"{MANIFEST}: format_version must be a whole number.")
    if version > FORMAT_VERSION:
        raise SnapshotError(
            f"This snapshot has format version {version}, from a newer MNIST Live; this app reads version "
            f"{FORMAT_VERSION}."
        )
    if version != FORMAT_VERSION:
        raise SnapshotError(f"Unknown snapshot format version {version}; this app reads version {FORMAT_VERSION}.")


def manifest_layers(manifest: dict[str, Any]) -> list[LayerSpec]:
    layers = _field(manifest, "layers", list, "a list of layers")
    for row, spec in enumerate(layers, start=1):
        if not isinstance(spec, dict):
            raise SnapshotError(f"{MANIFEST}: layer row {row} must be an object, got {kind_of(spec)}.")
        for key, value in spec.items():
            if not NAME_PATTERN.fullmatch(key):
                raise SnapshotError(f"{MANIFEST}: layer row {row} has a field named {quote_value(key)}; refused.")
            if value is not None and not isinstance(value, (str, int, float)):
                raise SnapshotError(f"{MANIFEST}: layer row {row}, {key} must be a plain value.")
            if isinstance(value, str) and not NAME_PATTERN.fullmatch(value):
                raise SnapshotError(
                    f"{MANIFEST}: layer row {row}, {key} must be a short name, got {quote_value(value)}."
                )
    try:
        validate_layers(layers)
    except ArchitectureError as exc:
        raise SnapshotError("The snapshot's network is invalid: " + "; ".join(exc.errors)) from None
    return layers


def manifest_settings(manifest: dict[str, Any], layers: list[LayerSpec]) -> TrainSettings:
    """TrainSettings through validate_settings, from a raw dict built field by field from the manifest.

    The network name may be a preset or CUSTOM_PRESET; either way the result names what `layers` are (the
    preset they equal, else CUSTOM_PRESET), since the layers, not the name, are what the weights fit.
    """
    settings = _field(manifest, "settings", dict, "an object")
    optimizer = _field(settings, "optimizer", dict, "an object", "settings.")
    name = _name(optimizer, "name", "settings.optimizer.")
    params = _field(optimizer, "params", dict, "an object", "settings.optimizer.")
    raw: dict[str, Any] = {"optimizer": name}
    for key in OPTIMIZERS[name].fields if name in OPTIMIZERS else ():
        raw[key] = _number(params, key, "settings.optimizer.params.")
    for spec in dataclasses.fields(TrainSettings):
        if spec.name == "optimizer":
            continue
        if spec.name == "preset":
            raw["preset"] = _name(settings, "preset", "settings.")
        elif spec.name in LATER_SETTINGS and spec.name not in settings:
            continue  # validate_settings gives it its default
        else:
            raw[spec.name] = _number(settings, spec.name, "settings.")
    try:
        settings = validate_settings(raw, {**PRESETS, CUSTOM_PRESET: layers})
    except SettingsError as exc:
        raise SnapshotError("The snapshot's settings are invalid: " + "; ".join(exc.errors.values())) from None
    return settings.with_(preset=preset_of(layers))


def preset_of(layers: list[LayerSpec]) -> str:
    """The name of the preset `layers` are, else CUSTOM_PRESET."""
    return next((name for name, preset in PRESETS.items() if preset == layers), CUSTOM_PRESET)


def manifest_metrics(manifest: dict[str, Any]) -> tuple[list[EpochRecord], list[ProgressPoint], int, float]:
    metrics = _field(manifest, "metrics", dict, "an object")
    epochs = _records(metrics, "epochs", EpochRecord, MAX_EPOCH_RECORDS)
    progress = _records(metrics, "progress", ProgressPoint, MAX_PROGRESS_LOADED)
    examples_seen = _metric(metrics.get("examples_seen"), "int", "metrics.examples_seen")
    train_seconds = _metric(metrics.get("train_seconds"), "float", "metrics.train_seconds")
    return epochs, thin(progress, MAX_PROGRESS_POINTS), examples_seen, train_seconds


def _records(metrics: dict[str, Any], key: str, cls: type, limit: int) -> list:
    rows = _field(metrics, key, list, "a list", "metrics.")
    if len(rows) > limit:
        raise SnapshotError(f"{MANIFEST}: metrics.{key} has {len(rows):,} entries; at most {limit:,} are allowed.")
    records = []
    for index, row in enumerate(rows):
        where = f"metrics.{key}[{index}]"
        if not isinstance(row, dict):
            raise SnapshotError(f"{MANIFEST}: {where} must be an object, got {kind_of(row)}.")
        values = {}
        for spec in dataclasses.fields(cls):
            if spec.name in row:
                values[spec.name] = _metric(row[spec.name], spec.type, f"{where}.{spec.name}")
            elif spec.default is dataclasses.MISSING:
                raise SnapshotError(f"{MANIFEST}: {where} has no {spec.name}.")
        records.append(cls(**values))
    return records


def _metric(value: Any, kind: Any, where: str) -> Any:
    if value is None and "None" in str(kind):  # an optional metric (EpochRecord.own_accuracy) left empty
        return None
    if kind in ("int", int):
        if not _is_int(value) or not 0 <= value <= MAX_METRIC:
            raise SnapshotError(f"{MANIFEST}: {where} must be a whole number from 0 to 1e15, got {kind_of(value)}.")
        return value
    if not _is_number(value) or not abs(value) <= MAX_METRIC:
        raise SnapshotError(f"{MANIFEST}: {where} must be a number of size at most 1e15, got {kind_of(value)}.")
    if "accuracy" in where.rsplit(".", 1)[-1] and not 0 <= value <= 1:
        raise SnapshotError(f"{MANIFEST}: {where} is an accuracy and must lie in [0, 1], got {value!r}.")
    return float(value)


def manifest_created(manifest: dict[str, Any]) -> datetime:
    text = manifest_text(manifest, "created")
    try:
        created = datetime.fromisoformat(text)
    except ValueError:
        raise SnapshotError(f"{MANIFEST}: created is not a date and time.") from None
    first, last = CREATED_YEARS
    if not first <= created.year <= last:  # checked before any time-zone arithmetic, which could overflow
        raise SnapshotError(
            f"{MANIFEST}: created is {quote_value(text)}; a snapshot's date lies in the years {first}-{last}."
        )
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def manifest_text(manifest: dict[str, Any], key: str) -> str:
    value = _field(manifest, key, str, "text")
    if not TEXT_PATTERN.fullmatch(value):
        raise SnapshotError(f"{MANIFEST}: {key} must be a short plain text, got {quote_value(value)}.")
    return value


def _field(mapping: dict[str, Any], key: str, kind: type, described: str, where: str = "") -> Any:
    if key not in mapping:
        raise SnapshotError(f"{MANIFEST} has no {where}{key}.")
    value = mapping[key]
    if not isinstance(value, kind):
        raise SnapshotError(f"{MANIFEST}: {where}{key} must be {described}, got {kind_of(value)}.")
    return value


def _name(mapping: dict[str, Any], key: str, where: str) -> str:
    value = _field(mapping, key, str, "text", where)
    if not NAME_PATTERN.fullmatch(value):
        raise SnapshotError(f"{MANIFEST}: {where}{key} must be a short name, got {quote_value(value)}.")
    return value


def _number(mapping: dict[str, Any], key: str, where: str) -> int | float:
    if key not in mapping:
        raise SnapshotError(f"{MANIFEST} has no {where}{key}.")
    value = mapping[key]
    if not _is_number(value):
        raise SnapshotError(f"{MANIFEST}: {where}{key} must be a number, got {kind_of(value)}.")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
