"""Network architectures as data: a list of layer specs, validated, with presets and a Keras builder."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mnist_core.data.geometry import CROP_SIZE

if TYPE_CHECKING:
    import keras

LayerSpec = dict[str, Any]

# ConvNetJS's MNIST demo net exactly: 5,994 weights on a 24x24 crop.
CONVNETJS: list[LayerSpec] = [
    {"type": "conv", "filters": 8, "kernel": 5, "stride": 1, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2, "stride": 2},
    {"type": "conv", "filters": 16, "kernel": 5, "stride": 1, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 3, "stride": 3},
    {"type": "flatten"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]

# LeNet-style, wider: 162,122 weights; 99.4% (4-crop test) after 4 epochs, about 50 s on 2 cores.
LARGE: list[LayerSpec] = [
    {"type": "conv", "filters": 16, "kernel": 5, "stride": 1, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2, "stride": 2},
    {"type": "conv", "filters": 32, "kernel": 5, "stride": 1, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2, "stride": 2},
    {"type": "flatten"},
    {"type": "dense", "units": 128, "activation": "relu"},
    {"type": "dropout", "rate": 0.3},
    {"type": "dense", "units": 10, "activation": "softmax"},
]

PRESETS: dict[str, list[LayerSpec]] = {"convnetjs": CONVNETJS, "large": LARGE}
PRESET_LABELS = {"convnetjs": "ConvNetJS demo net (5,994 weights)", "large": "Larger net (162,122 weights)"}

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear", "softmax")
PADDINGS = ("same", "valid")
LAYER_FIELDS: dict[str, dict[str, type]] = {
    "conv": {"filters": int, "kernel": int, "stride": int, "padding": str, "activation": str},
    "maxpool": {"size": int, "stride": int},
    "avgpool": {"size": int, "stride": int},
    "dense": {"units": int, "activation": str},
    "dropout": {"rate": float},
    "batchnorm": {},
    "flatten": {},
}


class ArchitectureError(ValueError):
    """The layer list is invalid; `errors` holds one message per problem, naming the row."""

    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


MAX_PARAMETERS = 5_000_000  # beyond this a network trains too slowly for a session on a small server
MAX_ACTIVATIONS = 250_000  # feature-map values per image: bounds a batch's memory (x batch size x 4 bytes x ~3)
MAX_LAYERS = 40
MAX_STRIDE = 2**15  # far inside the kernels' int32, far beyond any input this app builds


@dataclass(frozen=True)
class LayerRow:
    """One line of a network summary: what a layer outputs and how many weights it has."""

    row: int  # 1-based, as in the layer table; 0 for the input
    layer: str
    output_shape: tuple[int, ...]
    parameters: int


def validate_layers(layers: list[LayerSpec]) -> None:
    """Check every row's type and fields and that shapes and size work out; raise ArchitectureError listing all."""
    summarize(layers)


def summarize(layers: list[LayerSpec]) -> list[LayerRow]:
    """The network's layers with output shapes and parameter counts; ArchitectureError listing every problem."""
    if not isinstance(layers, (list, tuple)):
        raise ArchitectureError([f"The network must be a list of layers, got {_kind(layers)}."])
    if not layers:
        raise ArchitectureError(["The network has no layers."])
    if len(layers) > MAX_LAYERS:
        raise ArchitectureError([f"The network has {len(layers)} layers; the limit is {MAX_LAYERS}."])
    errors: list[str] = []
    for row, spec in enumerate(layers, start=1):
        errors += row_errors(row, spec)
    if errors:
        raise ArchitectureError(errors)
    rows, errors = _walk(layers)
    if errors:
        raise ArchitectureError(errors)
    return rows


def parameter_count(layers: list[LayerSpec]) -> int:
    """Weights (trainable or not) of a valid layer list, without building it."""
    return sum(r.parameters for r in summarize(layers))


def row_errors(row: int, spec: LayerSpec) -> list[str]:
    """Problems with one layer spec on its own (type, fields, their types and ranges), each naming the row."""
    if not isinstance(spec, Mapping):
        return [f"row {row}: a layer must be an object with a type and its fields, got {_kind(spec)}"]
    kind = spec.get("type")
    if not isinstance(kind, str) or kind not in LAYER_FIELDS:
        return [f"row {row}: unknown layer type {shown(kind)} (choose from {', '.join(LAYER_FIELDS)})"]
    fields = LAYER_FIELDS[kind]
    errors = [
        f"row {row}: {kind} has no field {shown(key)} ({_fields_of(kind)})"
        for key in spec
        if key != "type" and key not in fields
    ]
    for key, typ in fields.items():
        if key not in spec:
            errors.append(f"row {row}: {kind} is missing its {key}")
        else:
            errors += [f"row {row}: {problem}" for problem in _field_errors(kind, key, typ, spec[key])]
    return errors


def _field_errors(kind: str, key: str, typ: type, value: Any) -> list[str]:
    """What is wrong with one field's value (bool is no number here, whatever Python says)."""
    if typ is int:
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{kind} {key} must be a whole number, got {shown(value)}"]
        if value < 1:
            return [f"{kind} needs a whole number {key} of at least 1, got {shown(value)}"]
        if key in _COUNTS and value > MAX_ACTIVATIONS:
            # One layer with more outputs than the per-image limit is refused whatever its input.
            return [f"{kind} {key} {shown(value)} is out of range: at most {MAX_ACTIVATIONS:,} (values per image)"]
        return []
    if typ is float:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return [f"{kind} {key} must be a number in [0, 1), got {shown(value)}"]
        return [] if 0 <= value < 1 else [f"{kind} {key} must be in [0, 1), got {shown(value)}"]
    if key == "padding" and (not isinstance(value, str) or value not in PADDINGS):
        return [f"{kind} padding must be one of {PADDINGS}, got {shown(value)}"]
    if key == "activation" and (not isinstance(value, str) or value not in ACTIVATIONS):
        return [f"activation must be one of {ACTIVATIONS}, got {shown(value)}"]
    return []


_COUNTS = ("filters", "units")  # fields that set a layer's output size directly


def _fields_of(kind: str) -> str:
    fields = LAYER_FIELDS[kind]
    return f"its fields: {', '.join(fields)}" if fields else "it takes none"


def shown(value: Any, limit: int = 40) -> str:
    """A value as a message shows it: short, and never failing (huge ints, long strings, nested containers)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return _number(value)
    if isinstance(value, float):
        return f"{value:g}"
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, str):
        text = value if len(value) <= limit else value[:limit] + "…"
        return repr(text)
    return _kind(value)


def _number(value: int) -> str:
    """Digits with separators, or the order of magnitude of ints too long to print (Python refuses > 4300 digits)."""
    if abs(value) < 10**30:
        return f"{value:,}"
    sign = "-" if value < 0 else ""
    return f"about {sign}10^{math.floor(math.log10(abs(value)))}"  # log10 takes ints of any size


def _kind(value: Any) -> str:
    names = {dict: "an object", list: "a list", tuple: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), f"a {type(value).__name__}")


def _walk(layers: list[LayerSpec]) -> tuple[list[LayerRow], list[str]]:
    """Follow the shape through the layers; stop at the first shape problem (later rows depend on it)."""
    shape: tuple[int, ...] = (CROP_SIZE, CROP_SIZE, 1)
    rows = [LayerRow(0, "input (24x24 crop)", shape, 0)]
    for row, spec in enumerate(layers, start=1):
        shape, params, error = _step(row, spec, shape)
        if error:
            return rows, [error]
        rows.append(LayerRow(row, describe_layer(spec), shape, params))
    errors = []
    total = sum(r.parameters for r in rows)
    if total > MAX_PARAMETERS:
        errors.append(f"The network has {total:,} parameters; the limit on this server is {MAX_PARAMETERS:,}.")
    values = sum(math.prod(r.output_shape) for r in rows)
    if values > MAX_ACTIVATIONS:
        errors.append(
            f"The layers produce {values:,} values per image; the limit on this server is {MAX_ACTIVATIONS:,} "
            "(use fewer filters, or pool earlier)."
        )
    last = layers[-1]
    if last["type"] != "dense" or last.get("units") != 10 or last.get("activation") != "softmax":
        errors.append(f"row {len(layers)}: the last layer must be dense with 10 units and softmax")
    return rows, errors


def _step(row: int, spec: LayerSpec, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, str | None]:
    kind = spec["type"]
    if kind in ("conv", "maxpool", "avgpool"):
        if len(shape) != 3:
            return shape, 0, f"row {row}: {kind} needs an image-shaped input; it follows a flatten or dense layer"
        height, width, channels = shape
        window = spec["kernel"] if kind == "conv" else spec["size"]
        stride = spec["stride"]
        # Whatever the padding: a "same" window larger than its input reads mostly zeros at great cost.
        if window > min(height, width):
            what = "convolution" if kind == "conv" else kind.replace("pool", " pooling")
            sized = f"{window}x{window}" if window < 10**6 else f"{_number(window)}-wide"
            field = "kernel" if kind == "conv" else "size"
            return shape, 0, f"row {row}: {sized} {what} on a {height}x{width} input ({field} larger than its input)"
        # A window that covers the whole input gives one output whatever the stride, so a larger stride is harmless.
        covers = window >= max(height, width)
        if stride > min(height, width) and not (covers and stride <= MAX_STRIDE):
            return shape, 0, f"row {row}: {kind} stride {_number(stride)} is larger than its {height}x{width} input"
        if kind == "conv" and spec["padding"] == "same":
            height, width = -(-height // stride), -(-width // stride)
        else:
            height, width = (height - window) // stride + 1, (width - window) // stride + 1
        if kind != "conv":
            return (height, width, channels), 0, None
        filters = spec["filters"]
        return (height, width, filters), window * window * channels * filters + filters, None
    if kind == "dense":
        if len(shape) != 1:
            dims = "x".join(map(str, shape))
            return shape, 0, f"row {row}: dense needs a flat input; add a flatten row before it (input is {dims})"
        return (spec["units"],), shape[0] * spec["units"] + spec["units"], None
    if kind == "flatten":
        return (math.prod(shape),), 0, None
    if kind == "batchnorm":
        return shape, 4 * shape[-1], None  # scale and shift trained, mean and variance tracked
    return shape, 0, None  # dropout


def describe_layer(spec: LayerSpec) -> str:
    """A short human description of one valid layer spec, e.g. 'conv 8 of 5x5, stride 1, same, relu'."""
    kind = spec["type"]
    if kind == "conv":
        return (
            f"conv {spec['filters']} of {spec['kernel']}x{spec['kernel']}, stride {spec['stride']}, "
            f"{spec['padding']}, {spec['activation']}"
        )
    if kind in ("maxpool", "avgpool"):
        return f"{kind[:3]} pool {spec['size']}x{spec['size']}, stride {spec['stride']}"
    if kind == "dense":
        return f"dense {spec['units']}, {spec['activation']}"
    if kind == "dropout":
        return f"dropout {spec['rate']:g}"
    return "batch norm" if kind == "batchnorm" else "flatten"


def build_model(layers: list[LayerSpec], seed: int = 0) -> keras.Model:
    """Keras model: uint8 (28, 28) in, 10 class probabilities out; weights seeded from `seed`."""
    import keras  # here, not at the top: pages import this module and should not wait for TensorFlow

    from mnist_core.compat.keras_workarounds import keep_kernel_cache_bounded
    from mnist_core.model.crop import RandomCrop2D

    validate_layers(layers)
    keep_kernel_cache_bounded()  # else each build keeps ~36 kB per variable in TensorFlow's kernel cache, for good
    inputs = keras.Input((28, 28), dtype="uint8", name="image")
    cropped = RandomCrop2D(seed=seed, name="random_crop")(inputs)
    core = build_core(layers, seed)
    return keras.Model(inputs, core(cropped), name="mnist_live")


def build_core(layers: list[LayerSpec], seed: int = 0) -> keras.Sequential:
    """The part behind the crop: (24, 24, 1) float pixels 0..255 to probabilities."""
    import keras

    built: list[keras.layers.Layer] = [keras.Input((CROP_SIZE, CROP_SIZE, 1)), keras.layers.Rescaling(1 / 255)]
    for index, spec in enumerate(layers):
        built.append(_keras_layer(spec, seed * 1000 + index))
    return keras.Sequential(built, name="core")


def _keras_layer(spec: LayerSpec, seed: int) -> keras.layers.Layer:
    import keras

    kind = spec["type"]
    init = {"kernel_initializer": keras.initializers.GlorotUniform(seed=seed)}
    if kind == "conv":
        return keras.layers.Conv2D(
            spec["filters"],
            spec["kernel"],
            strides=spec["stride"],
            padding=spec["padding"],
            activation=spec["activation"],
            **init,
        )
    if kind in ("maxpool", "avgpool"):
        pool = keras.layers.MaxPooling2D if kind == "maxpool" else keras.layers.AveragePooling2D
        return pool(spec["size"], strides=spec["stride"], padding="valid")
    if kind == "dense":
        return keras.layers.Dense(spec["units"], activation=spec["activation"], **init)
    if kind == "dropout":
        return keras.layers.Dropout(spec["rate"], seed=seed)
    if kind == "batchnorm":
        return keras.layers.BatchNormalization()
    return keras.layers.Flatten()


def core_of(model: keras.Model) -> keras.Sequential:
    """The core (everything behind the crop layer) of a model made by build_model."""
    return model.get_layer("core")


def decayed_kernels(model: keras.Model) -> list:
    """The weights L2 decay applies to: conv and dense kernels, not biases (as in ConvNetJS)."""
    return [layer.kernel for layer in core_of(model).layers if hasattr(layer, "kernel")]
