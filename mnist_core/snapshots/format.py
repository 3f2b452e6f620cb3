"""The snapshot file format: its members, limits and error, what a load gives, and how values are shown."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from mnist_core.inspection.inference import InferenceModel
from mnist_core.model.architecture import (
    LayerSpec,
)
from mnist_core.settings import TrainSettings
from mnist_core.training.run_state import EpochRecord, ProgressPoint, RunView
from mnist_core.training.status import Status

FORMAT = "mnist-live-snapshot"
FORMAT_VERSION = 1
SUFFIX = ".mnistlive.zip"
APP = "mnist-live"
MANIFEST = "manifest.json"
MODEL = "model.keras"

# Settings added after version 1 was written: a version 1 snapshot without them had them at their default (off).
LATER_SETTINGS = ("own_digits", "class_digits")

# The settings' network name for layers that are no preset: the session's own network (ui.network.CUSTOM).
CUSTOM_PRESET = "custom"

MAX_SNAPSHOT_BYTES = 50 * 2**20  # the file as uploaded
MAX_EPOCH_RECORDS = 10_000
MAX_PROGRESS_LOADED = 10_000  # more are refused; up to this many are thinned to MAX_PROGRESS_POINTS
MAX_EXPANSION = 100  # uncompressed / compressed, for members above EXPANSION_FLOOR bytes
EXPANSION_FLOOR = 2**20
# Uncompressed size caps, checked on the declared sizes before anything is read.
SNAPSHOT_MEMBERS = {MANIFEST: 4 * 2**20, MODEL: 48 * 2**20}
KERAS_MEMBERS = {"config.json": 2**20, "metadata.json": 2**16, "model.weights.h5": 40 * 2**20}
# Entries a zip's end record may list, and bytes per entry in its central directory, checked before zipfile reads
# the directory (it reads all of it, 46 bytes and a ZipInfo per entry): twice the members allowed, so a few
# unexpected ones are still read and named.
ENTRIES_PER_MEMBER = 2
DIRECTORY_BYTES_PER_ENTRY = 1024
MAX_JSON_DEPTH = 32  # lists and objects inside each other; Keras's config.json has 10, the manifest 4
CREATED_YEARS = (2000, 2100)  # a saving time outside these is not a real one, and near years 1 and 9999 it overflows
MAX_INT_DIGITS = 20
MAX_METRIC = 1e15
MAX_TEXT = 200
# Names from the file (optimizer, preset, layer fields) end up in messages that pages may render as Markdown.
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.\- ]{1,40}")
TEXT_PATTERN = re.compile(r"[A-Za-z0-9_.+:\- ]{1,64}")  # versions and ISO times
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

    def as_run_view(self) -> RunView:
        """The metrics as a final run_state.RunView, for the charts and tables that draw a job's metrics."""
        last = self.epochs[-1].epoch if self.epochs else 0
        return RunView(
            status=Status.STOPPED,
            message="Loaded from a snapshot",
            epoch=last,
            epochs=last,
            examples_seen=self.examples_seen,
            train_seconds=self.train_seconds,
            progress=tuple(self.progress),
            history=tuple(self.epochs),
        )


def mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB"


def kind_of(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "text", bool: "true/false", type(None): "null"}
    return names.get(type(value), repr(value)[:40])


def quote_value(value: Any) -> str:
    """A name from the file, cut short and reduced to plain characters (messages may be rendered as Markdown)."""
    return "'" + _UNSAFE_CHARS.sub("?", str(value)[:60]) + "'"
