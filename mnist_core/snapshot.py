"""Session snapshots: a network with its settings and metrics in one zip file; loading treats the file as hostile.

A snapshot (`*.mnistlive.zip`) holds exactly two members:
- `manifest.json`: format name and version, app and Keras versions, creation time (UTC), the layer specs,
  the TrainSettings as a dict and the metrics (epoch records, at most MAX_PROGRESS_POINTS progress points,
  examples seen, training seconds);
- `model.keras`: the network in Keras's native format, as made by build_model for those layers.

What loading checks costs little whatever the file: zip entries are counted from the end record before zipfile
reads a directory, JSON depth from the text before it is parsed, HDF5 entries against what the manifest's network
can have before they are listed.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np

from mnist_core.architecture import (
    MAX_PARAMETERS,
    PRESET_LABELS,
    PRESETS,
    ArchitectureError,
    LayerSpec,
    build_model,
    parameter_count,
    validate_layers,
)
from mnist_core.crop import INPUT_SIZE, RandomCrop2D
from mnist_core.inference import InferenceModel
from mnist_core.live_state import MAX_PROGRESS_POINTS, EpochRecord, ProgressPoint, Snapshot
from mnist_core.settings import OPTIMIZERS, SettingsError, TrainSettings, validate_settings

FORMAT = "mnist-live-snapshot"
FORMAT_VERSION = 1
SUFFIX = ".mnistlive.zip"
APP = "mnist-live"
MANIFEST = "manifest.json"
MODEL = "model.keras"

# The settings' network name for layers that are no preset: the session's own network (ui.network.CUSTOM).
CUSTOM_PRESET = "custom"

MAX_SNAPSHOT_BYTES = 50 * 2**20  # the file as uploaded
MAX_EPOCH_RECORDS = 10_000
MAX_PROGRESS_LOADED = 10_000  # more are refused; up to this many are thinned to MAX_PROGRESS_POINTS
MAX_EXPANSION = 100  # uncompressed / compressed, for members above _EXPANSION_FLOOR bytes
_EXPANSION_FLOOR = 2**20
# Uncompressed size caps, checked on the declared sizes before anything is read.
_SNAPSHOT_MEMBERS = {MANIFEST: 4 * 2**20, MODEL: 48 * 2**20}
_KERAS_MEMBERS = {"config.json": 2**20, "metadata.json": 2**16, "model.weights.h5": 40 * 2**20}
# Entries a zip's end record may list, and bytes per entry in its central directory, checked before zipfile reads
# the directory (it reads all of it, 46 bytes and a ZipInfo per entry): twice the members allowed, so a few
# unexpected ones are still read and named.
_ENTRIES_PER_MEMBER = 2
_DIRECTORY_BYTES_PER_ENTRY = 1024
MAX_JSON_DEPTH = 32  # lists and objects inside each other; Keras's config.json has 10, the manifest 4
CREATED_YEARS = (2000, 2100)  # a saving time outside these is not a real one, and near years 1 and 9999 it overflows
_MAX_INT_DIGITS = 20
_MAX_METRIC = 1e15
_MAX_TEXT = 200
# Names from the file (optimizer, preset, layer fields) end up in messages that pages may render as Markdown.
_NAME = re.compile(r"[A-Za-z0-9_.\- ]{1,40}")
_TEXT = re.compile(r"[A-Za-z0-9_.+:\- ]{1,64}")  # versions and ISO times
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_.\-/ ]")


class SnapshotError(ValueError):
    """The file is not a snapshot this app can use; the message says why, for the user."""


@dataclass(frozen=True, eq=False)
class LoadedSnapshot:
    layers: list[LayerSpec]
    settings: TrainSettings
    weights: list[np.ndarray]  # for build_model(layers, settings.seed).set_weights(...)
    model: InferenceModel  # a freshly built network holding the weights, ready to predict
    epochs: list[EpochRecord]
    progress: list[ProgressPoint]
    examples_seen: int
    train_seconds: float
    weight_count: int
    created: datetime
    app_version: str
    description: str  # one line for the page, built from validated values only

    def as_snapshot(self) -> Snapshot:
        """The metrics as a final live_state.Snapshot, for the charts and tables that draw a job's metrics."""
        last = self.epochs[-1].epoch if self.epochs else 0
        return Snapshot(
            status="stopped",
            message="Loaded from a snapshot",
            epoch=last,
            epochs=last,
            examples_seen=self.examples_seen,
            train_seconds=self.train_seconds,
            progress=tuple(self.progress),
            history=tuple(self.epochs),
        )


# --- saving ---


def save_snapshot(
    model: keras.Model | Sequence[np.ndarray],
    layers: list[LayerSpec],
    settings: TrainSettings,
    metrics: Snapshot | None,
) -> bytes:
    """The snapshot file for a network (a model, or its weights as from LiveState.weights()) and its history."""
    fresh = build_model(layers, settings.seed)  # validates the layers, parameter limit included
    weights = model.get_weights() if isinstance(model, keras.Model) else list(model)
    expected = [tuple(w.shape) for w in fresh.get_weights()]
    if [tuple(np.shape(w)) for w in weights] != expected:
        raise ValueError("The weights do not fit the layers: they come from a different network.")
    # A fresh, uncompiled model: the file then carries no optimizer, regularizer or other session objects.
    fresh.set_weights(weights)
    with tempfile.TemporaryDirectory(prefix="mnist-live-save-") as folder:
        path = Path(folder) / MODEL
        fresh.save(path)
        model_bytes = path.read_bytes()
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "app": APP,
        "app_version": _app_version(),
        "keras_version": keras.__version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "layers": layers,
        "settings": settings.to_dict(),
        "metrics": _metrics_dict(metrics),
    }
    text = json.dumps(manifest, indent=1, allow_nan=False, default=_plain)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, text)
        archive.writestr(MODEL, model_bytes)
    return buffer.getvalue()


def snapshot_filename(settings: TrainSettings, when: datetime | None = None) -> str:
    """A download name such as `mnist-live-convnetjs-20260101-120000.mnistlive.zip`."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"mnist-live-{settings.preset}-{stamp}{SUFFIX}"


def _metrics_dict(metrics: Snapshot | None) -> dict[str, Any]:
    if metrics is None:
        return {"examples_seen": 0, "train_seconds": 0.0, "epochs": [], "progress": []}
    # A non-finite value can only come from a diverging moment; JSON cannot hold it and loading refuses it.
    progress = [p for p in metrics.progress if _finite(p)]
    return {
        "examples_seen": int(metrics.examples_seen),
        "train_seconds": float(metrics.train_seconds),
        "epochs": [asdict(r) for r in metrics.history if _finite(r)],
        "progress": [asdict(p) for p in _thin(progress, MAX_PROGRESS_POINTS)],
    }


def _finite(record: Any) -> bool:
    return all(math.isfinite(v) for v in asdict(record).values())


def _thin(points: list, limit: int) -> list:
    """At most `limit` points spread evenly over the whole span, first and last kept."""
    if len(points) <= limit:
        return list(points)
    keep = np.unique(np.linspace(0, len(points) - 1, limit).round().astype(int))
    return [points[i] for i in keep]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(APP)
    except PackageNotFoundError:
        return "dev"


# --- loading ---


def load_snapshot(data: bytes) -> LoadedSnapshot:
    """Check a snapshot file from anyone and rebuild its network; raise SnapshotError saying what is wrong."""
    if not data:
        raise SnapshotError("The file is empty.")
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(f"The file is {_mb(len(data))}; snapshots are at most {_mb(MAX_SNAPSHOT_BYTES)}.")
    members = _read_members(
        data, "The snapshot", _SNAPSHOT_MEMBERS, read=(MANIFEST, MODEL), what="an MNIST Live snapshot"
    )
    if MANIFEST not in members:
        raise SnapshotError(f"The snapshot has no {MANIFEST}: it was not saved by MNIST Live.")
    if MODEL not in members:
        raise SnapshotError(f"The snapshot has no {MODEL}: it holds no network.")
    manifest = _parse_json(members[MANIFEST], MANIFEST)
    if not isinstance(manifest, dict):
        raise SnapshotError(f"{MANIFEST} must hold a JSON object.")
    _check_format(manifest)
    layers = _layers(manifest)
    settings = _settings(manifest, layers)
    epochs, progress, examples_seen, train_seconds = _metrics(manifest)
    created = _created(manifest)
    app_version = _text(manifest, "app_version")

    count = parameter_count(layers)  # validate_layers enforces the limit already; this guards against it changing
    if count > MAX_PARAMETERS:
        raise SnapshotError(f"The network has {count:,} weights; this app takes at most {MAX_PARAMETERS:,}.")
    reference = build_model(layers, settings.seed)
    weights = _model_weights(members[MODEL], reference)
    reference.set_weights(weights)
    return LoadedSnapshot(
        layers=layers,
        settings=settings,
        weights=reference.get_weights(),
        model=InferenceModel(reference),
        epochs=epochs,
        progress=progress,
        examples_seen=examples_seen,
        train_seconds=train_seconds,
        weight_count=count,
        created=created,
        app_version=app_version,
        description=_describe(layers, settings, epochs, examples_seen, count, created),
    )


# --- zip members ---


def _read_members(
    data: bytes, label: str, limits: dict[str, int], read: tuple[str, ...], what: str
) -> dict[str, bytes]:
    """Check every member's name and declared sizes, then read the members named in `read` (capped)."""
    try:
        _check_directory(data, label, limits)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_infos(infos, label, limits)
            return {i.filename: _read(archive, i, limits[i.filename], label) for i in infos if i.filename in read}
    except SnapshotError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError, OSError):
        raise SnapshotError(f"{label} is not {what}: it is not a zip file, or it is damaged or cut short.") from None


def _check_directory(data: bytes, label: str, limits: dict[str, int]) -> None:
    """From the zip's end record alone: no more entries, and no larger central directory, than `limits` allow."""
    # zipfile's own (private) reader of the end record, zip64 included: the numbers checked are the ones it then uses.
    end = zipfile._EndRecData(io.BytesIO(data))
    if not end:
        raise zipfile.BadZipFile("no end of central directory record")
    entries, size = end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]
    most = _ENTRIES_PER_MEMBER * len(limits)
    if entries > most:
        raise SnapshotError(f"{label} lists {entries:,} files; it may hold only {', '.join(limits)}.")
    if size > most * _DIRECTORY_BYTES_PER_ENTRY:
        raise SnapshotError(
            f"{label}'s list of files (its zip central directory) takes {size:,} bytes; one of {', '.join(limits)} "
            f"takes at most {most * _DIRECTORY_BYTES_PER_ENTRY:,}."
        )


def _check_infos(infos: list[zipfile.ZipInfo], label: str, limits: dict[str, int]) -> None:
    names = [i.filename for i in infos]
    for name in names:
        if _unsafe(name):
            raise SnapshotError(f"{label} holds a file with an unsafe path, {_shown(name)}; refused.")
    for name in names:
        if name not in limits:
            raise SnapshotError(
                f"{label} holds an unexpected file {_shown(name)}; it may hold only {', '.join(limits)}."
            )
    if len(set(names)) != len(names):
        # Two readers could pick different copies of a name: the one checked would not be the one used.
        raise SnapshotError(f"{label} holds the same file name twice; refused.")
    for info in infos:
        if info.flag_bits & 0x1:
            raise SnapshotError(f"{label}: {info.filename} is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise SnapshotError(f"{label}: {info.filename} uses an unsupported compression method.")
        if info.file_size > limits[info.filename]:
            raise SnapshotError(
                f"{label}: {info.filename} would unpack to {_mb(info.file_size)}, "
                f"more than the {_mb(limits[info.filename])} allowed."
            )
        if info.file_size > _EXPANSION_FLOOR and info.file_size > MAX_EXPANSION * info.compress_size:
            raise SnapshotError(
                f"{label}: {info.filename} would expand from {_mb(info.compress_size)} to {_mb(info.file_size)}, "
                f"more than {MAX_EXPANSION}x; refused as a possible zip bomb."
            )


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, label: str) -> bytes:
    # zipfile stops at the declared size and checks the CRC; the running cap guards against both failing.
    chunks, total = [], 0
    with archive.open(info) as member:
        while chunk := member.read(2**20):
            total += len(chunk)
            if total > min(limit, info.file_size):
                raise SnapshotError(f"{label}: {info.filename} unpacks to more than it declares; refused.")
            chunks.append(chunk)
    return b"".join(chunks)


def _unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ":" in name or "\x00" in name or ".." in parts


# --- manifest ---


def _parse_json(raw: bytes, label: str) -> Any:
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
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise _JsonValueError(f"the number {text[:40]}... is too large.")
    return int(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise _JsonValueError("a key appears twice in one object.")
    return result


def _check_format(manifest: dict[str, Any]) -> None:
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


def _layers(manifest: dict[str, Any]) -> list[LayerSpec]:
    layers = _field(manifest, "layers", list, "a list of layers")
    for row, spec in enumerate(layers, start=1):
        if not isinstance(spec, dict):
            raise SnapshotError(f"{MANIFEST}: layer row {row} must be an object, got {_kind(spec)}.")
        for key, value in spec.items():
            if not _NAME.fullmatch(key):
                raise SnapshotError(f"{MANIFEST}: layer row {row} has a field named {_shown(key)}; refused.")
            if value is not None and not isinstance(value, (str, int, float)):
                raise SnapshotError(f"{MANIFEST}: layer row {row}, {key} must be a plain value.")
            if isinstance(value, str) and not _NAME.fullmatch(value):
                raise SnapshotError(f"{MANIFEST}: layer row {row}, {key} must be a short name, got {_shown(value)}.")
    try:
        validate_layers(layers)
    except ArchitectureError as exc:
        raise SnapshotError("The snapshot's network is invalid: " + "; ".join(exc.errors)) from None
    return layers


def _settings(manifest: dict[str, Any], layers: list[LayerSpec]) -> TrainSettings:
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


def _metrics(manifest: dict[str, Any]) -> tuple[list[EpochRecord], list[ProgressPoint], int, float]:
    metrics = _field(manifest, "metrics", dict, "an object")
    epochs = _records(metrics, "epochs", EpochRecord, MAX_EPOCH_RECORDS)
    progress = _records(metrics, "progress", ProgressPoint, MAX_PROGRESS_LOADED)
    examples_seen = _metric(metrics.get("examples_seen"), "int", "metrics.examples_seen")
    train_seconds = _metric(metrics.get("train_seconds"), "float", "metrics.train_seconds")
    return epochs, _thin(progress, MAX_PROGRESS_POINTS), examples_seen, train_seconds


def _records(metrics: dict[str, Any], key: str, cls: type, limit: int) -> list:
    rows = _field(metrics, key, list, "a list", "metrics.")
    if len(rows) > limit:
        raise SnapshotError(f"{MANIFEST}: metrics.{key} has {len(rows):,} entries; at most {limit:,} are allowed.")
    records = []
    for index, row in enumerate(rows):
        where = f"metrics.{key}[{index}]"
        if not isinstance(row, dict):
            raise SnapshotError(f"{MANIFEST}: {where} must be an object, got {_kind(row)}.")
        values = {}
        for spec in dataclasses.fields(cls):
            if spec.name in row:
                values[spec.name] = _metric(row[spec.name], spec.type, f"{where}.{spec.name}")
            elif spec.default is dataclasses.MISSING:
                raise SnapshotError(f"{MANIFEST}: {where} has no {spec.name}.")
        records.append(cls(**values))
    return records


def _metric(value: Any, kind: Any, where: str) -> Any:
    if kind in ("int", int):
        if not _is_int(value) or not 0 <= value <= _MAX_METRIC:
            raise SnapshotError(f"{MANIFEST}: {where} must be a whole number from 0 to 1e15, got {_kind(value)}.")
        return value
    if not _is_number(value) or not abs(value) <= _MAX_METRIC:
        raise SnapshotError(f"{MANIFEST}: {where} must be a number of size at most 1e15, got {_kind(value)}.")
    if "accuracy" in where.rsplit(".", 1)[-1] and not 0 <= value <= 1:
        raise SnapshotError(f"{MANIFEST}: {where} is an accuracy and must lie in [0, 1], got {value!r}.")
    return float(value)


def _created(manifest: dict[str, Any]) -> datetime:
    text = _text(manifest, "created")
    try:
        created = datetime.fromisoformat(text)
    except ValueError:
        raise SnapshotError(f"{MANIFEST}: created is not a date and time.") from None
    first, last = CREATED_YEARS
    if not first <= created.year <= last:  # checked before any time-zone arithmetic, which could overflow
        raise SnapshotError(
            f"{MANIFEST}: created is {_shown(text)}; a snapshot's date lies in the years {first}-{last}."
        )
    return created if created.tzinfo else created.replace(tzinfo=UTC)


def _text(manifest: dict[str, Any], key: str) -> str:
    value = _field(manifest, key, str, "text")
    if not _TEXT.fullmatch(value):
        raise SnapshotError(f"{MANIFEST}: {key} must be a short plain text, got {_shown(value)}.")
    return value


def _field(mapping: dict[str, Any], key: str, kind: type, described: str, where: str = "") -> Any:
    if key not in mapping:
        raise SnapshotError(f"{MANIFEST} has no {where}{key}.")
    value = mapping[key]
    if not isinstance(value, kind):
        raise SnapshotError(f"{MANIFEST}: {where}{key} must be {described}, got {_kind(value)}.")
    return value


def _name(mapping: dict[str, Any], key: str, where: str) -> str:
    value = _field(mapping, key, str, "text", where)
    if not _NAME.fullmatch(value):
        raise SnapshotError(f"{MANIFEST}: {where}{key} must be a short name, got {_shown(value)}.")
    return value


def _number(mapping: dict[str, Any], key: str, where: str) -> int | float:
    if key not in mapping:
        raise SnapshotError(f"{MANIFEST} has no {where}{key}.")
    value = mapping[key]
    if not _is_number(value):
        raise SnapshotError(f"{MANIFEST}: {where}{key} must be a number, got {_kind(value)}.")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --- model.keras ---


def _model_weights(model_bytes: bytes, reference: keras.Model) -> list[np.ndarray]:
    """The weights of `model_bytes`, after checking that it is the network `reference` is."""
    members = _read_members(
        model_bytes, MODEL, _KERAS_MEMBERS, read=("config.json", "model.weights.h5"), what="a valid Keras file"
    )
    if "config.json" not in members or "model.weights.h5" not in members:
        raise SnapshotError(f"{MODEL} is incomplete: it needs config.json and model.weights.h5.")
    _check_config(_parse_json(members["config.json"], f"{MODEL}: config.json"), reference)
    _check_h5(members["model.weights.h5"], reference)
    with tempfile.TemporaryDirectory(prefix="mnist-live-load-") as folder:
        path = Path(folder) / MODEL  # a fixed name: nothing from the file decides where it is written
        path.write_bytes(model_bytes)
        try:
            loaded = keras.saving.load_model(path, safe_mode=True, compile=False)
        except Exception as exc:  # noqa: BLE001 - any failure to deserialise is the file's fault, said plainly
            raise SnapshotError(_load_failure(exc)) from None
    if not isinstance(loaded, keras.Model):
        raise SnapshotError(f"{MODEL} does not hold a Keras model.")
    _check_io(loaded)
    weights = loaded.get_weights()
    expected = [w.shape for w in reference.get_weights()]
    if [w.shape for w in weights] != expected:
        raise SnapshotError(f"{MODEL} does not match the layers in {MANIFEST}: its weights have other shapes.")
    for w in weights:
        if w.dtype != np.float32 or not np.isfinite(w).all():
            raise SnapshotError(f"{MODEL} holds weights that are not finite float32 numbers.")
    return weights


def _load_failure(exc: Exception) -> str:
    text = str(exc)
    if "Lambda" in text or "safe_mode" in text or "unsafe" in text:
        return f"{MODEL} contains Python code (such as a Lambda layer); MNIST Live never runs code from a file."
    if "Could not locate" in text or "Could not deserialize" in text or "Unknown" in text:
        return f"{MODEL} uses a layer or object this app does not know; refused."
    first = text.strip().splitlines()[0][:_MAX_TEXT] if text.strip() else type(exc).__name__
    return f"{MODEL} could not be loaded: {first}"


# Config keys that decide weight shapes and so what Keras allocates while it builds the model.
_SHAPE_KEYS = (
    "batch_shape",
    "build_input_shape",
    "filters",
    "kernel_size",
    "strides",
    "dilation_rate",
    "groups",
    "padding",
    "pool_size",
    "units",
    "size",
    "use_bias",
    "data_format",
    "axis",
    "center",
    "scale",
)


def _check_config(config: Any, reference: keras.Model) -> None:
    """Before Keras builds anything: same layer classes, sizes and settings as `reference`, only known objects."""
    expected = json.loads(json.dumps(keras.saving.serialize_keras_object(reference), default=_plain))
    known = {d["class_name"] for d in _objects(expected)}
    # Keras looks a registered name up before the class name: each class only with the names it has in this app.
    registered: dict[str, set[str | None]] = {}
    for d in _objects(expected):
        registered.setdefault(d["class_name"], set()).add(d.get("registered_name"))
    own_module = RandomCrop2D.__module__
    for found in _objects(config):
        name, module = _config_text(found, "class_name"), _config_text(found, "module")
        if name not in known:
            raise SnapshotError(f"{MODEL} uses {_shown(name)}, which an MNIST Live network never contains; refused.")
        if module is not None and not (module == "keras" or module.startswith("keras.") or module == own_module):
            raise SnapshotError(f"{MODEL} refers to code in {_shown(module)}; refused.")
        if (registered_name := _config_text(found, "registered_name")) not in registered[name]:
            shown = "(none)" if registered_name is None else _shown(registered_name)
            raise SnapshotError(f"{MODEL}: its {name} has the registered name {shown}, which this app never saves.")
    layer_classes = {d["class_name"] for d in _objects(expected) if _is_layer(d)}
    layers, wanted = _layers_in(config, layer_classes), _layers_in(expected, layer_classes)
    if [_signature(d) for d in layers] != [_signature(d) for d in wanted]:
        raise SnapshotError(f"{MODEL} does not match the layers in {MANIFEST}: the two describe different networks.")
    for found, want in zip(layers, wanted):
        # Settings no network of this app has (such as lora_rank) could make Keras allocate what it likes.
        extra = sorted(set(found["config"]) - set(want["config"]))
        if extra:
            raise SnapshotError(
                f"{MODEL}: its {found['class_name']} layer has a setting {_shown(extra[0])}, which an MNIST Live "
                "network never has; refused."
            )


def _config_text(found: dict[str, Any], key: str) -> str | None:
    value = found.get(key)
    if value is not None and not isinstance(value, str):
        raise SnapshotError(f"{MODEL}: config.json has a {key} that is {_kind(value)}; it must be text.")
    return value


def _is_layer(found: dict[str, Any]) -> bool:
    inner = found.get("config")
    return isinstance(inner, dict) and ("trainable" in inner or "batch_shape" in inner)  # layers and models


def _layers_in(config: Any, layer_classes: set[str]) -> list[dict[str, Any]]:
    """The serialised objects of a layer class, whatever their config holds (a bad config fails their signature)."""
    return [d for d in _objects(config) if d["class_name"] in layer_classes]


def _objects(config: Any) -> Iterator[dict[str, Any]]:
    """Every serialised object (a dict with a class_name) in document order; iterative, so depth cannot hurt."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "class_name" in item:
                yield item
            stack.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            stack.extend(reversed(item))


def _signature(found: dict[str, Any]) -> tuple:
    inner = found.get("config")
    if not isinstance(inner, dict):
        return (found["class_name"], None)
    sizes = tuple((key, _frozen(inner[key])) for key in _SHAPE_KEYS if key in inner)
    return found["class_name"], sizes, _frozen(found.get("build_config"))


def _frozen(value: Any) -> Any:
    """A comparable copy; types kept, so true is not 1 (recursive: only for JSON whose depth was checked)."""
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    return type(value).__name__, value


def _check_h5(weights_h5: bytes, reference: keras.Model) -> None:
    """No links, external, virtual or chunked data, no more objects or declared data than the network needs."""
    allowed = 8 * reference.count_params() + 2**20  # float64 at most, plus small state such as seed generators
    try:
        with h5py.File(io.BytesIO(weights_h5), "r") as file:
            declared = _walk_h5(file, _h5_object_budget(reference))
    except SnapshotError:
        raise
    except Exception:  # noqa: BLE001 - h5py raises many kinds of errors on a damaged file
        raise SnapshotError(f"{MODEL}: its weights file is damaged or not an HDF5 file.") from None
    if declared > allowed:
        raise SnapshotError(
            f"{MODEL}: its weights file declares {_mb(declared)} of data, more than the network in {MANIFEST} needs."
        )


def _h5_object_budget(reference: keras.Model) -> int:
    """Groups, datasets and attributes a weights file of `reference` may hold, with room to spare.

    Keras writes two groups and one attribute per layer and a dataset per variable; the serialised objects
    (layers, initializers, dtype policies) outnumber the layers.
    """
    objects = sum(1 for _ in _objects(keras.saving.serialize_keras_object(reference)))
    return 4 * (objects + len(reference.variables)) + 64


def _walk_h5(file: h5py.File, budget: int) -> int:
    """The data bytes the file declares, reading no more than `budget` entries (links and attributes) in all."""
    declared, left = 0, budget - len(file.attrs)  # attribute counts sit in object headers: free to read
    stack: list[h5py.Group] = [file]
    while stack:
        group = stack.pop()
        names = _first_links(group, max(left + 1, 0))  # one more than allowed shows that there are too many
        left -= len(names)
        if left < 0:
            break
        for name in names:
            where = _shown(f"{group.name.rstrip('/')}/{name.decode(errors='replace')}")
            link = group.get(name, getlink=True)
            if not isinstance(link, h5py.HardLink):
                raise SnapshotError(f"{MODEL}: its weights file holds a {type(link).__name__} ({where}); refused.")
            item = group[name]
            left -= len(item.attrs)
            if isinstance(item, h5py.Group):
                stack.append(item)
            elif isinstance(item, h5py.Dataset):
                declared += _dataset_bytes(item, where)
            else:
                raise SnapshotError(f"{MODEL}: its weights file holds a {type(item).__name__} ({where}); refused.")
    if left < 0:
        raise SnapshotError(
            f"{MODEL}: its weights file holds more than {budget:,} objects, more than the network in {MANIFEST} "
            "can have; refused."
        )
    return declared


def _first_links(group: h5py.Group, most: int) -> list[bytes]:
    """The names of at most `most` links of `group`: HDF5 stops iterating there (len(group) may count them all)."""
    names: list[bytes] = []

    def take(name: bytes) -> bool | None:
        names.append(name)
        return True if len(names) >= most else None  # anything but None stops the iteration

    if most > 0:
        group.id.links.iterate(take)
    return names


def _dataset_bytes(item: h5py.Dataset, where: str) -> int:
    if item.external or item.is_virtual:
        raise SnapshotError(f"{MODEL}: its weights file holds data stored outside the file ({where}).")
    if item.chunks is not None:  # Keras never writes chunked (or compressed) data; its chunk count is unbounded
        raise SnapshotError(f"{MODEL}: its weights file holds chunked or compressed data ({where}).")
    if item.dtype.kind not in "fiub":
        raise SnapshotError(f"{MODEL}: its weights file holds non-numeric data ({where}); refused.")
    return math.prod(item.shape or ()) * item.dtype.itemsize


def _check_io(model: keras.Model) -> None:
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        raise SnapshotError(f"{MODEL} must have one input and one output.")
    shape, dtype = tuple(model.inputs[0].shape), model.inputs[0].dtype
    if shape != (None, INPUT_SIZE, INPUT_SIZE) or dtype != "uint8":
        raise SnapshotError(
            f"{MODEL} takes input {shape} {dtype}; an MNIST Live network takes (None, 28, 28) uint8 images."
        )
    if tuple(model.outputs[0].shape) != (None, 10):
        raise SnapshotError(f"{MODEL} gives output {tuple(model.outputs[0].shape)}; it must give 10 probabilities.")


# --- text ---


def _describe(
    layers: list[LayerSpec],
    settings: TrainSettings,
    epochs: list[EpochRecord],
    examples_seen: int,
    weight_count: int,
    created: datetime,
) -> str:
    preset = preset_of(layers)
    network = PRESET_LABELS.get(preset, f"Custom network ({len(layers)} layers, {weight_count:,} weights)")
    optimizer = f"{settings.optimizer.label}, batch size {settings.batch_size}"
    if epochs:
        last = epochs[-1]
        quality = f"test accuracy {last.test_accuracy_crops:.2%} with {last.crops} crops after epoch {last.epoch}"
    else:
        quality = "not evaluated"
    saved = created.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{network}; {optimizer}; {examples_seen:,} examples seen; {quality}; saved {saved}."


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), repr(value)[:40])


def _shown(value: Any) -> str:
    """A name from the file, cut short and reduced to plain characters (messages may be rendered as Markdown)."""
    return "'" + _UNSAFE_CHARS.sub("?", str(value)[:60]) + "'"
