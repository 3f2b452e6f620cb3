"""A snapshot's `model.keras`: its config compared with the manifest's network, its HDF5 weights walked on a budget."""

from __future__ import annotations

import io
import json
import math
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np

from mnist_core.model.crop import INPUT_SIZE, RandomCrop2D
from mnist_core.snapshots.format import (
    KERAS_MEMBERS,
    MANIFEST,
    MAX_TEXT,
    MODEL,
    SnapshotError,
    kind_of,
    mb,
    quote_value,
)
from mnist_core.snapshots.manifest import parse_json
from mnist_core.snapshots.save import plain
from mnist_core.snapshots.zip_members import read_members


def model_weights(model_bytes: bytes, reference: keras.Model) -> list[np.ndarray]:
    """The weights of `model_bytes`, after checking that it is the network `reference` is."""
    members = read_members(
        model_bytes, MODEL, KERAS_MEMBERS, read=("config.json", "model.weights.h5"), what="a valid Keras file"
    )
    if "config.json" not in members or "model.weights.h5" not in members:
        raise SnapshotError(f"{MODEL} is incomplete: it needs config.json and model.weights.h5.")
    _check_config(parse_json(members["config.json"], f"{MODEL}: config.json"), reference)
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
    first = text.strip().splitlines()[0][:MAX_TEXT] if text.strip() else type(exc).__name__
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
    expected = json.loads(json.dumps(keras.saving.serialize_keras_object(reference), default=plain))
    known = {d["class_name"] for d in _objects(expected)}
    # Keras looks a registered name up before the class name: each class only with the names it has in this app.
    registered: dict[str, set[str | None]] = {}
    for d in _objects(expected):
        registered.setdefault(d["class_name"], set()).add(d.get("registered_name"))
    own_module = RandomCrop2D.__module__
    for found in _objects(config):
        name, module = _config_text(found, "class_name"), _config_text(found, "module")
        if name not in known:
            raise SnapshotError(
                f"{MODEL} uses {quote_value(name)}, which an MNIST Live network never contains; refused."
            )
        if module is not None and not (module == "keras" or module.startswith("keras.") or module == own_module):
            raise SnapshotError(f"{MODEL} refers to code in {quote_value(module)}; refused.")
        if (registered_name := _config_text(found, "registered_name")) not in registered[name]:
            shown = "(none)" if registered_name is None else quote_value(registered_name)
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
                f"{MODEL}: its {found['class_name']} layer has a setting {quote_value(extra[0])}, which an MNIST Live "
                "network never has; refused."
            )


def _config_text(found: dict[str, Any], key: str) -> str | None:
    value = found.get(key)
    if value is not None and not isinstance(value, str):
        raise SnapshotError(f"{MODEL}: config.json has a {key} that is {kind_of(value)}; it must be text.")
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
            f"{MODEL}: its weights file declares {mb(declared)} of data, more than the network in {MANIFEST} needs."
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
            where = quote_value(f"{group.name.rstrip('/')}/{name.decode(errors='replace')}")
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
