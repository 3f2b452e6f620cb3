"""Session snapshots: round trips on real MNIST, and one refusal per kind of hostile or broken file."""

from __future__ import annotations

import io
import json
import tempfile
import warnings
import zipfile
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest

from mnist_core.model.architecture import CONVNETJS, LARGE, build_core, build_model
from mnist_core.model.crop import RandomCrop2D
from mnist_core.model.predict import CropPredictor
from mnist_core.settings import TrainSettings, default_optimizer
from mnist_core.snapshots import SnapshotError, load_snapshot, manifest, model_file, save_snapshot, snapshot_filename
from mnist_core.snapshots import format as snapshot_format
from mnist_core.snapshots import load as snapshot_load
from mnist_core.training.job import TrainingJob
from mnist_core.training.run_state import MAX_PROGRESS_POINTS, EpochRecord, ProgressPoint, RunView
from tests.conftest import small

pytestmark = pytest.mark.timeout(600)

EVERY_LAYER = [
    {"type": "conv", "filters": 6, "kernel": 3, "stride": 1, "padding": "valid", "activation": "tanh"},
    {"type": "batchnorm"},
    {"type": "avgpool", "size": 2, "stride": 2},
    {"type": "conv", "filters": 8, "kernel": 3, "stride": 2, "padding": "same", "activation": "relu"},
    {"type": "maxpool", "size": 2, "stride": 2},
    {"type": "flatten"},
    {"type": "dropout", "rate": 0.25},
    {"type": "dense", "units": 12, "activation": "sigmoid"},
    {"type": "dense", "units": 10, "activation": "softmax"},
]


def _random_model(layers, seed: int = 3) -> keras.Model:
    model = build_model(layers, seed)
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(0, 0.2, w.shape).astype(np.float32) for w in model.get_weights()])
    return model


def _metrics(points: int = 30) -> RunView:
    progress = tuple(ProgressPoint(i * 50, i / 20, 2.0 / (i + 1), 0.01, i / points, i * 0.1) for i in range(points))
    history = tuple(EpochRecord(e, e * 1000, e * 2.5, 0.5 / e, 0.8, 0.4 / e, 0.85, 0.9, 0.91, 4) for e in range(1, 3))
    return RunView(status="finished", examples_seen=2000, train_seconds=5.0, progress=progress, history=history)


SETTINGS = TrainSettings(optimizer=default_optimizer("momentum"), batch_size=64, crops=6, seed=3, averaging=0.9)


@pytest.fixture(scope="module")
def good() -> bytes:
    return save_snapshot(_random_model(CONVNETJS), CONVNETJS, SETTINGS, _metrics())


# --- zip helpers: build files the way an attacker would ---


def _zip(members, compression=zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names, which one test wants
        with zipfile.ZipFile(buffer, "w", compression) as archive:
            for name, data in members.items() if isinstance(members, dict) else members:
                archive.writestr(name, data)
    return buffer.getvalue()


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _manifest(data: bytes) -> dict:
    return json.loads(_members(data)["manifest.json"])


def _replace(data: bytes, manifest: dict | str | bytes | None = None, model: bytes | None = None) -> bytes:
    members = _members(data)
    if manifest is not None:
        members["manifest.json"] = json.dumps(manifest) if isinstance(manifest, dict) else manifest
    if model is not None:
        members["model.keras"] = model
    return _zip(members)


def _edit_manifest(data: bytes, edit) -> bytes:
    manifest = _manifest(data)
    edit(manifest)
    return _replace(data, manifest)


def _keras_file(model: keras.Model) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.keras"
        model.save(path)
        return path.read_bytes()


def _refused(data: bytes, *fragments: str) -> str:
    with pytest.raises(SnapshotError) as caught:
        load_snapshot(data)
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    return message


# --- round trips ---


def test_round_trip_keeps_network_settings_and_metrics(good, mnist):
    original = _random_model(CONVNETJS)
    loaded = load_snapshot(good)
    assert loaded.layers == CONVNETJS and loaded.settings == SETTINGS
    assert all(np.array_equal(a, b) for a, b in zip(loaded.weights, original.get_weights()))
    images = mnist.test.x[:300]
    expected = CropPredictor(original).predict(images, 4, seed=1).probabilities
    np.testing.assert_array_equal(loaded.model.predict(images, 4, seed=1).probabilities, expected)
    metrics = _metrics()
    assert loaded.epochs == list(metrics.history) and loaded.progress == list(metrics.progress)
    assert loaded.examples_seen == 2000 and loaded.train_seconds == 5.0 and loaded.weight_count == 5994
    assert "ConvNetJS demo net" in loaded.description and "SGD + momentum" in loaded.description
    assert "91.00% with 4 crops" in loaded.description
    assert loaded.as_run_view().history == metrics.history and loaded.as_run_view().final


def test_file_format(good):
    with zipfile.ZipFile(io.BytesIO(good)) as archive:
        assert sorted(archive.namelist()) == ["manifest.json", "model.keras"]
    manifest = _manifest(good)
    assert manifest["format"] == "mnist-live-snapshot" and manifest["format_version"] == 1
    assert manifest["settings"] == SETTINGS.to_dict() and manifest["layers"] == CONVNETJS
    assert snapshot_filename(SETTINGS).endswith(".mnistlive.zip")


def test_round_trip_of_a_trained_job(mnist):
    job = TrainingJob(TrainSettings(batch_size=50, epochs=1, seed=1), small(mnist, 600, 200))
    job.start()
    assert job.join(timeout=300)
    snap = job.state.view()
    assert snap.status == "finished", snap.message
    for source in (job.model, job.state.weights()[1]):  # the model, or the weights a page gets while it trains
        loaded = load_snapshot(save_snapshot(source, job.layers, job.settings, snap))
        assert loaded.epochs == list(snap.history) and len(loaded.epochs) == 1
        assert loaded.progress == list(snap.progress) and loaded.examples_seen == snap.examples_seen == 600
        assert loaded.settings == job.settings
        images = mnist.test.x[:200]
        expected = CropPredictor(job.model).predict(images, 4, seed=2).probabilities
        np.testing.assert_array_equal(loaded.model.predict(images, 4, seed=2).probabilities, expected)


def test_every_layer_type_round_trips():
    model = _random_model(EVERY_LAYER)
    loaded = load_snapshot(save_snapshot(model, EVERY_LAYER, TrainSettings(), None))
    assert all(np.array_equal(a, b) for a, b in zip(loaded.weights, model.get_weights()))
    assert loaded.epochs == [] and loaded.progress == [] and "Custom network (9 layers" in loaded.description
    assert loaded.weight_count == model.count_params()


def test_a_custom_network_round_trips_named_custom():
    model = _random_model(EVERY_LAYER)
    custom = TrainSettings(preset=snapshot_format.CUSTOM_PRESET, seed=5)  # as a job on a network from the layer editor
    loaded = load_snapshot(save_snapshot(model, EVERY_LAYER, custom, None))
    assert loaded.layers == EVERY_LAYER and loaded.settings == custom
    assert all(np.array_equal(a, b) for a, b in zip(loaded.weights, model.get_weights()))


def test_the_settings_name_the_network_the_layers_are():
    # A file whose network name disagrees with its layers: the layers (which the weights fit) decide.
    renamed = load_snapshot(save_snapshot(_random_model(EVERY_LAYER), EVERY_LAYER, TrainSettings(), None))
    assert renamed.settings.preset == snapshot_format.CUSTOM_PRESET
    preset = load_snapshot(save_snapshot(_random_model(LARGE), LARGE, TrainSettings(preset="custom"), None))
    assert preset.settings.preset == "large" and "Larger net" in preset.description


def test_long_progress_is_thinned_keeping_the_span():
    metrics = _metrics(points=2500)
    loaded = load_snapshot(save_snapshot(_random_model(CONVNETJS), CONVNETJS, TrainSettings(), metrics))
    assert len(loaded.progress) == MAX_PROGRESS_POINTS
    assert loaded.progress[0] == metrics.progress[0] and loaded.progress[-1] == metrics.progress[-1]


def test_saving_refuses_weights_of_another_network():
    with pytest.raises(ValueError, match="different network"):
        save_snapshot(_random_model(LARGE), CONVNETJS, TrainSettings(), None)


# --- the file as a whole ---


def test_empty_bytes():
    _refused(b"", "empty")


def test_random_bytes():
    _refused(np.random.default_rng(0).bytes(5000), "not an MNIST Live snapshot", "not a zip file")


def test_truncated_zip(good):
    _refused(good[: len(good) // 2], "not a zip file, or it is damaged or cut short")


def test_corrupt_member_data(good):
    data = bytearray(good)
    start = good.index(b"model.keras") + 40  # inside model.keras's compressed data
    data[start : start + 200] = bytes(200)
    with pytest.raises(SnapshotError):
        load_snapshot(bytes(data))


def test_oversized_file(good, monkeypatch):
    monkeypatch.setattr(snapshot_load, "MAX_SNAPSHOT_BYTES", 1000)
    _refused(good, "snapshots are at most")


def test_zip_bomb_by_ratio(good):
    members = _members(good)
    members["manifest.json"] = b" " * (3 * 2**20)  # under the manifest's size cap, but 1000x compressible
    _refused(_zip(members), "zip bomb")


def test_zip_bomb_by_declared_size(good):
    members = _members(good)
    members["model.keras"] = bytes(60 * 2**20)
    _refused(_zip(members), "model.keras would unpack to 60.0 MB")


def test_zip_bomb_inside_model_keras(good):
    inner = _members(_members(good)["model.keras"])
    inner["model.weights.h5"] = bytes(45 * 2**20)
    _refused(_replace(good, model=_zip(inner)), "model.weights.h5 would unpack to")


@pytest.mark.parametrize("name", ["../manifest.json", "/etc/passwd", "a/../../b", "..\\evil", "C:evil"])
def test_path_traversal_member_names(good, name):
    members = _members(good) | {name: b"x"}
    _refused(_zip(members), "unsafe path")


def test_unexpected_member(good):
    _refused(_zip(_members(good) | {"notes.txt": b"hi"}), "unexpected file 'notes.txt'")


def test_duplicate_member(good):
    members = list(_members(good).items())
    _refused(_zip([*members, ("manifest.json", b"{}")]), "same file name twice")


def test_missing_manifest(good):
    members = _members(good)
    del members["manifest.json"]
    _refused(_zip(members), "no manifest.json")


def test_missing_model(good):
    members = _members(good)
    del members["model.keras"]
    _refused(_zip(members), "no model.keras")


# --- the manifest ---


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        (b"this is not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[1, 2]", "must hold a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, "nested 100,000 deep"),  # refused before json.loads recurses
        (b'{"format": "mnist-live-snapshot", "format": 1}', "appears twice"),
    ],
)
def test_manifest_not_usable_json(good, text, fragment):
    _refused(_replace(good, text), fragment)


def test_manifest_format_and_version(good):
    _refused(_edit_manifest(good, lambda m: m.update(format="something-else")), "not an MNIST Live")
    _refused(_edit_manifest(good, lambda m: m.update(format_version=2)), "newer MNIST Live")
    _refused(_edit_manifest(good, lambda m: m.update(format_version="1")), "whole number")


def _settings_text(good: bytes, key: str, literal: str) -> bytes:
    """The manifest with settings[key] written as a raw JSON literal (NaN and Infinity are not valid JSON)."""
    manifest = _manifest(good)
    manifest["settings"][key] = "@@"
    return _replace(good, json.dumps(manifest).replace('"@@"', literal))


@pytest.mark.parametrize(
    ("key", "literal", "fragment"),
    [
        ("weight_decay", "NaN", "NaN is not a number this app accepts"),
        ("weight_decay", "Infinity", "Infinity is not a number"),
        ("weight_decay", "-Infinity", "-Infinity is not a number"),
        ("weight_decay", "1e999", "too large"),
        ("epochs", "1" + "0" * 40, "too large"),
        ("batch_size", "-5", "Batch size: -5 is out of range"),
        ("epochs", "1e300", "Epochs: 1e+300 is out of range"),
        ("batch_size", "64.5", "Batch size: must be a whole number"),
        ("averaging", "1.0", "Weight averaging (EMA): 1.0 is out of range"),
        ("batch_size", '"64"', "settings.batch_size must be a number, got text"),
        ("crops", "true", "settings.crops must be a number"),
        ("preset", '"nope"', "unknown preset 'nope'"),
        ("preset", '"[click](http://x)"', "must be a short name"),
    ],
)
def test_bad_settings(good, key, literal, fragment):
    _refused(_settings_text(good, key, literal), fragment)


def test_bad_optimizer_settings(good):
    def nan_rate(m):
        m["settings"]["optimizer"]["params"]["learning_rate"] = -1

    _refused(_edit_manifest(good, nan_rate), "Learning rate: -1 is out of range")
    _refused(_edit_manifest(good, lambda m: m["settings"]["optimizer"].update(name="lbfgs")), "unknown 'lbfgs'")
    _refused(_edit_manifest(good, lambda m: m["settings"]["optimizer"]["params"].clear()), "no settings.optimizer")
    _refused(_edit_manifest(good, lambda m: m["settings"].pop("seed")), "no settings.seed")
    _refused(_edit_manifest(good, lambda m: m.update(settings=[1])), "settings must be an object")


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda m: m["metrics"]["epochs"][0].update(test_accuracy_crops=1.5), "accuracy and must lie in [0, 1]"),
        (lambda m: m["metrics"]["epochs"][0].update(train_loss="low"), "train_loss must be a number"),
        (lambda m: m["metrics"]["epochs"][0].update(epoch=1.5), "epoch must be a whole number"),
        (lambda m: m["metrics"]["epochs"][0].pop("crops"), "has no crops"),
        (lambda m: m["metrics"]["progress"].append([1, 2]), "must be an object"),
        (lambda m: m["metrics"].update(examples_seen=-1), "examples_seen must be a whole number"),
        (lambda m: m["metrics"].update(examples_seen=10**19), "examples_seen must be a whole number"),
        (lambda m: m["metrics"].update(progress={}), "progress must be a list"),
        (lambda m: m.pop("metrics"), "no metrics"),
        (lambda m: m.update(created="yesterday"), "not a date"),
        (lambda m: m.update(app_version="**bold** <b>"), "app_version must be a short plain text"),
    ],
)
def test_bad_metrics(good, edit, fragment):
    _refused(_edit_manifest(good, edit), fragment)


def test_too_many_progress_points(good, monkeypatch):
    monkeypatch.setattr(manifest, "MAX_PROGRESS_LOADED", 10)
    _refused(good, "metrics.progress has 30 entries")


def test_invalid_layers_name_the_row(good):
    def bad_row(m):
        m["layers"][1]["size"] = 0

    _refused(_edit_manifest(good, bad_row), "network is invalid", "row 2: maxpool needs a whole number size")
    _refused(_edit_manifest(good, lambda m: m.update(layers=[])), "no layers")
    _refused(_edit_manifest(good, lambda m: m["layers"].insert(0, "conv")), "row 1 must be an object")
    _refused(_edit_manifest(good, lambda m: m["layers"][0].update(type={"x": 1})), "must be a plain value")


def test_too_many_parameters(good):
    # 576 inputs x 10,000 units: few values per image, but 5.9 million weights.
    huge = [
        {"type": "flatten"},
        {"type": "dense", "units": 10_000, "activation": "relu"},
        {"type": "dense", "units": 10, "activation": "softmax"},
    ]
    _refused(_edit_manifest(good, lambda m: m.update(layers=huge)), "5,870,010", "5,000,000")


def test_network_without_flatten_is_refused(good):
    layers = [CONVNETJS[0], {"type": "dense", "units": 10, "activation": "softmax"}]
    _refused(_edit_manifest(good, lambda m: m.update(layers=layers)), "network is invalid", "flatten")


# --- model.keras ---


def test_model_that_disagrees_with_the_manifest_layers(good):
    _refused(_edit_manifest(good, lambda m: m.update(layers=LARGE)), "does not match the layers in manifest.json")


def _lambda_model() -> keras.Model:
    inputs = keras.Input((28, 28), dtype="uint8")
    scaled = keras.layers.Lambda(lambda x: keras.ops.cast(x, "float32") / 255)(inputs)
    outputs = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(scaled))
    return keras.Model(inputs, outputs)


def test_lambda_layer_is_refused_before_keras_sees_it(good):
    _refused(_replace(good, model=_keras_file(_lambda_model())), "uses 'Lambda'", "refused")


def test_lambda_layer_is_refused_by_keras_safe_mode(good, monkeypatch):
    monkeypatch.setattr(model_file, "_check_config", lambda config, reference: None)
    monkeypatch.setattr(model_file, "_check_h5", lambda weights, reference: None)
    _refused(_replace(good, model=_keras_file(_lambda_model())), "contains Python code")


def _edited_config(good: bytes, edit) -> bytes:
    inner = _members(_members(good)["model.keras"])
    inner["config.json"] = edit(inner["config.json"].decode()).encode()
    return _replace(good, model=_zip(inner, zipfile.ZIP_STORED))


def test_unknown_class_is_refused(good, monkeypatch):
    evil = _edited_config(good, lambda text: text.replace('"Flatten"', '"EvilFlatten"'))
    _refused(evil, "uses 'EvilFlatten'")
    foreign = _edited_config(good, lambda text: text.replace('"module": "keras.layers"', '"module": "os"', 1))
    _refused(foreign, "refers to code in 'os'")
    monkeypatch.setattr(model_file, "_check_config", lambda config, reference: None)
    _refused(evil, "does not know")


def test_bigger_layer_in_config_is_refused_before_it_is_built(good):
    # Keras would allocate a 10^9-unit kernel while building from config.json, before any weights are compared.
    _refused(_edited_config(good, lambda text: text.replace('"units": 10', '"units": 1000000000')), "does not match")


def _model_on(inputs, crop: bool = True) -> keras.Model:
    x = RandomCrop2D(seed=0)(inputs) if crop else inputs
    return keras.Model(inputs, build_core(CONVNETJS)(x))


def test_wrong_input_dtype_is_refused(good):
    model = _model_on(keras.Input((28, 28), dtype="float32"))
    _refused(_replace(good, model=_keras_file(model)), "takes input (None, 28, 28) float32")


def test_wrong_input_shape_is_refused(good, monkeypatch):
    model = _model_on(keras.Input((32, 32), dtype="uint8"))
    _refused(_replace(good, model=_keras_file(model)), "does not match the layers")
    monkeypatch.setattr(model_file, "_check_config", lambda config, reference: None)
    _refused(_replace(good, model=_keras_file(model)), "takes input (None, 32, 32) uint8")


def test_weights_with_links_outside_the_file_are_refused(good):
    inner = _members(_members(good)["model.keras"])
    buffer = io.BytesIO(inner["model.weights.h5"])
    with h5py.File(buffer, "r+") as file:
        file["layers/elsewhere"] = h5py.ExternalLink("/etc/passwd", "/")
    inner["model.weights.h5"] = buffer.getvalue()
    _refused(_replace(good, model=_zip(inner, zipfile.ZIP_STORED)), "ExternalLink")


def test_model_keras_that_is_not_a_zip(good):
    _refused(_replace(good, model=b"PK not really"), "model.keras is not a valid Keras file")


def test_non_finite_weights_are_refused():
    model = _random_model(CONVNETJS)
    weights = model.get_weights()
    weights[0][0, 0, 0, 0] = np.nan
    model.set_weights(weights)
    _refused(save_snapshot(model, CONVNETJS, TrainSettings(), None), "not finite")


# --- issue 15: values outside Python's ranges, configs of the wrong shape, cost of the checks ---


@pytest.mark.parametrize(
    "created",
    ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1999-12-31T23:59:59+00:00", "2101-01-01T00:00:00"],
)
def test_dates_outside_a_sane_range_are_refused(good, created):
    _refused(_edit_manifest(good, lambda m: m.update(created=created)), "created", "2000", "2100")


def _nested(depth: int, kind: str = "list"):
    value = 0
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def _config_edit(good: bytes, edit) -> bytes:
    def apply(text: str) -> str:
        config = json.loads(text)
        edit(config)
        return json.dumps(config)

    return _edited_config(good, apply)


@pytest.mark.parametrize("kind", ["list", "object"])
def test_json_nested_too_deep_is_refused_before_it_is_walked(good, kind):
    deep = _config_edit(good, lambda c: c.update(build_config=_nested(500, kind)))
    _refused(deep, "config.json", "nested 50", "deep")
    deep_manifest = _edit_manifest(good, lambda m: m["metrics"].update(notes=_nested(500, kind)))
    _refused(deep_manifest, "manifest.json", "nested 50", "deep")


@pytest.mark.parametrize(("key", "value"), [("class_name", ["Dense"]), ("class_name", {"a": 1}), ("module", [1])])
def test_config_fields_of_the_wrong_type_are_refused(good, key, value):
    _refused(_config_edit(good, lambda c: c.update({key: value})), "config.json", key, "must be text")


def test_a_weights_file_with_more_objects_than_its_network_is_refused_before_the_walk(good, monkeypatch):
    from tools.fuzz_snapshot import many_datasets_snapshot

    read, first_links = [], model_file._first_links

    def counted(group, most):
        names = first_links(group, most)
        read.extend(names)
        return names

    monkeypatch.setattr(model_file, "_first_links", counted)
    _refused(many_datasets_snapshot(3000, good), "weights file holds more than", "objects")
    assert 0 < len(read) < 300  # HDF5 stopped listing the 3,000 names at the network's budget


def _traced_peak(call) -> int:
    import tracemalloc

    tracemalloc.start()
    try:
        call()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_zip_listing_more_entries_than_a_snapshot_holds_is_refused_before_its_directory_is_read(good):
    from tools.fuzz_snapshot import many_entries_zip

    listed = many_entries_zip(1_000_000)  # 45 MB, under the 50 MB cap
    peak = _traced_peak(lambda: _refused(listed, "lists 1,000,000 files", "manifest.json, model.keras"))
    assert peak < 2**20  # zipfile's own parse of it takes +361 MB
    lying = many_entries_zip(1_000_000, declared=2)  # the entry count says 2; zipfile reads the directory's size
    peak = _traced_peak(lambda: _refused(lying, "central directory", "bytes"))
    assert peak < 2**20
    inner = _zip(_members(good) | {"model.keras": many_entries_zip(100_000)}, zipfile.ZIP_STORED)  # no zip bomb
    _refused(inner, "model.keras lists 100,000 files")


def _dense_config(config: dict) -> dict:
    return next(d for d in model_file._objects(config) if d["class_name"] == "Dense")


def test_config_settings_or_names_no_network_of_the_app_has_are_refused(good):
    # lora_rank makes Keras add (inputs x rank) and (rank x units) kernels while it builds, before shapes are compared.
    lora = _config_edit(good, lambda c: _dense_config(c)["config"].update(lora_rank=10_000))
    _refused(lora, "Dense layer has a setting 'lora_rank'")
    # Keras picks a registered class by registered_name before class_name.
    renamed = _config_edit(good, lambda c: _dense_config(c).update(registered_name="mnist_live>RandomCrop2D"))
    _refused(renamed, "its Dense has the registered name 'mnist_live?RandomCrop2D'")  # shown without Markdown
    _refused(_config_edit(good, lambda c: _dense_config(c).update(registered_name=[1])), "registered_name", "text")
    _refused(_config_edit(good, lambda c: c.pop("registered_name")), "its Functional has the registered name (none)")


def test_chunked_or_compressed_weights_are_refused(good):
    # Keras never writes them; a chunked dataset's chunk count, and so the cost of reading it, is unbounded.
    inner = _members(_members(good)["model.keras"])
    buffer = io.BytesIO(inner["model.weights.h5"])
    with h5py.File(buffer, "r+") as file:
        name = "layers/sequential/layers/dense/vars/0"
        kernel = file[name][()]
        del file[name]
        file.create_dataset(name, data=kernel, chunks=(1, 1), compression="gzip")
    inner["model.weights.h5"] = buffer.getvalue()
    _refused(_replace(good, model=_zip(inner, zipfile.ZIP_STORED)), "chunked or compressed data", "dense/vars/0")
