"""Snapshots: the saved `.mnistlive.zip` file (a network with its settings and metrics), and the pretrained network.

A snapshot holds exactly two members: `manifest.json` (format name and version, app and Keras versions, creation
time, the layer specs, the TrainSettings as a dict and the metrics) and `model.keras` (the network in Keras's
native format, as build_model makes it for those layers). `format` says what the file is, `save` writes one,
`load` reads one from anyone through `zip_members`, `manifest` and `model_file`, which treat every byte as
hostile. `pretrained` is the small network shipped in `assets/`. May import `data`, `model`, `settings` and
`training.run_state`; imports Keras.
"""

from mnist_core.snapshots.format import CUSTOM_PRESET, MAX_SNAPSHOT_BYTES, SUFFIX, LoadedSnapshot, SnapshotError
from mnist_core.snapshots.load import load_snapshot
from mnist_core.snapshots.save import save_snapshot, snapshot_filename

__all__ = [
    "CUSTOM_PRESET",
    "MAX_SNAPSHOT_BYTES",
    "SUFFIX",
    "LoadedSnapshot",
    "SnapshotError",
    "load_snapshot",
    "save_snapshot",
    "snapshot_filename",
]
