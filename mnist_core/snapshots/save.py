"""Saving a snapshot: a network with its settings and metrics in one `.mnistlive.zip`."""

from __future__ import annotations

import io
import json
import math
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import keras
import numpy as np

from mnist_core.model.architecture import (
    LayerSpec,
    build_model,
)
from mnist_core.settings import TrainSettings
from mnist_core.snapshots.format import APP, FORMAT, FORMAT_VERSION, MANIFEST, MODEL, SUFFIX
from mnist_core.training.run_state import MAX_PROGRESS_POINTS, RunView


def save_snapshot(
    model: keras.Model | Sequence[np.ndarray],
    layers: list[LayerSpec],
    settings: TrainSettings,
    metrics: RunView | None,
) -> bytes:
    """The snapshot file for a network (a model, or its weights as from RunState.weights()) and its history."""
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
    text = json.dumps(manifest, indent=1, allow_nan=False, default=plain)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST, text)
        archive.writestr(MODEL, model_bytes)
    return buffer.getvalue()


def snapshot_filename(settings: TrainSettings, when: datetime | None = None) -> str:
    """A download name such as `mnist-live-convnetjs-20260101-120000.mnistlive.zip`."""
    stamp = (when or datetime.now(UTC)).strftime("%Y%m%d-%H%M%S")
    return f"mnist-live-{settings.preset}-{stamp}{SUFFIX}"


def _metrics_dict(metrics: RunView | None) -> dict[str, Any]:
    if metrics is None:
        return {"examples_seen": 0, "train_seconds": 0.0, "epochs": [], "progress": []}
    # A non-finite value can only come from a diverging moment; JSON cannot hold it and loading refuses it.
    progress = [p for p in metrics.progress if _finite(p)]
    return {
        "examples_seen": int(metrics.examples_seen),
        "train_seconds": float(metrics.train_seconds),
        "epochs": [asdict(r) for r in metrics.history if _finite(r)],
        "progress": [asdict(p) for p in thin(progress, MAX_PROGRESS_POINTS)],
    }


def _finite(record: Any) -> bool:
    """Every number in it finite (an optional metric may be None)."""
    return all(v is None or math.isfinite(v) for v in asdict(record).values())


def thin(points: list, limit: int) -> list:
    """At most `limit` points spread evenly over the whole span, first and last kept."""
    if len(points) <= limit:
        return list(points)
    keep = np.unique(np.linspace(0, len(points) - 1, limit).round().astype(int))
    return [points[i] for i in keep]


def plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _app_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(APP)
    except PackageNotFoundError:
        return "dev"
