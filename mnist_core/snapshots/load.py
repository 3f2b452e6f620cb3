"""Loading a snapshot from anyone: every member, value and config is checked before its network is built.

What loading checks costs little whatever the file: zip entries are counted from the end record before zipfile
reads a directory, JSON depth from the text before it is parsed, HDF5 entries against what the manifest's network
can have before they are listed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from mnist_core.inspection.inference import InferenceModel
from mnist_core.model.architecture import (
    MAX_PARAMETERS,
    PRESET_LABELS,
    LayerSpec,
    build_model,
    parameter_count,
)
from mnist_core.settings import TrainSettings
from mnist_core.snapshots.format import (
    MANIFEST,
    MAX_SNAPSHOT_BYTES,
    MODEL,
    SNAPSHOT_MEMBERS,
    LoadedSnapshot,
    SnapshotError,
    mb,
)
from mnist_core.snapshots.manifest import (
    check_format,
    manifest_created,
    manifest_layers,
    manifest_metrics,
    manifest_settings,
    manifest_text,
    parse_json,
    preset_of,
)
from mnist_core.snapshots.model_file import model_weights
from mnist_core.snapshots.zip_members import read_members
from mnist_core.training.run_state import EpochRecord


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


def load_snapshot(data: bytes) -> LoadedSnapshot:
    """Check a snapshot file from anyone and rebuild its network; raise SnapshotError saying what is wrong."""
    if not data:
        raise SnapshotError("The file is empty.")
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise SnapshotError(f"The file is {mb(len(data))}; snapshots are at most {mb(MAX_SNAPSHOT_BYTES)}.")
    members = read_members(
        data, "The snapshot", SNAPSHOT_MEMBERS, read=(MANIFEST, MODEL), what="an MNIST Live snapshot"
    )
    if MANIFEST not in members:
        raise SnapshotError(f"The snapshot has no {MANIFEST}: it was not saved by MNIST Live.")
    if MODEL not in members:
        raise SnapshotError(f"The snapshot has no {MODEL}: it holds no network.")
    manifest = parse_json(members[MANIFEST], MANIFEST)
    if not isinstance(manifest, dict):
        raise SnapshotError(f"{MANIFEST} must hold a JSON object.")
    check_format(manifest)
    layers = manifest_layers(manifest)
    settings = manifest_settings(manifest, layers)
    epochs, progress, examples_seen, train_seconds = manifest_metrics(manifest)
    created = manifest_created(manifest)
    app_version = manifest_text(manifest, "app_version")

    count = parameter_count(layers)  # validate_layers enforces the limit already; this guards against it changing
    if count > MAX_PARAMETERS:
        raise SnapshotError(f"The network has {count:,} weights; this app takes at most {MAX_PARAMETERS:,}.")
    reference = build_model(layers, settings.seed)
    weights = model_weights(members[MODEL], reference)
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
