"""An ended run as a row of the store: from a Train page job or from a race's contestants."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mnist_core.model.architecture import PRESETS, LayerSpec, parameter_count
from mnist_core.settings import TrainSettings
from mnist_core.store.config import Limits
from mnist_core.store.curves import race_curves, train_curves
from mnist_core.store.schema import NAME_CHARS
from mnist_core.store.text import clean_text
from mnist_core.store.weights import pack, packed_size
from mnist_core.training.status import Status


@dataclass
class RunRecord:
    """One run to insert; `weights` are the arrays (packed by the store, within its size cap)."""

    owner: str
    kind: str  # "train" or "race"
    name: str
    status: str
    settings: TrainSettings
    layers: list[LayerSpec]
    curves: str
    test_accuracy: float | None
    validation_accuracy: float | None
    final_loss: float | None
    examples_seen: int
    epochs: int
    train_seconds: float
    wall_seconds: float
    weights: list | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def network(self) -> str:
        return self.settings.preset

    @property
    def examples_per_second(self) -> float | None:
        return self.examples_seen / self.train_seconds if self.train_seconds > 0 else None

    def row(self, limits: Limits) -> dict[str, Any]:
        """The values of the runs table's columns (weights over the cap are left out, with a note)."""
        weights, note = None, None
        if self.weights:
            size = packed_size(self.weights)
            if size <= limits.weights_bytes:
                weights = pack(self.weights)
            else:
                note = f"weights not kept: {size / 2**20:.1f} MB is over the store's cap of "
                note += f"{limits.weights_bytes / 2**20:.1f} MB"
        else:
            note = "no weights were published"
        return {
            "owner": self.owner,
            "created_at": self.created_at,
            "kind": self.kind,
            "name": clean_text(self.name, NAME_CHARS) or "run",
            "status": self.status,
            "optimizer": self.settings.optimizer.name,
            "network": self.network,
            "settings": json.dumps(self.settings.to_dict()),
            "layers": json.dumps(self.layers),
            "curves": self.curves,
            "test_accuracy": self.test_accuracy,
            "validation_accuracy": self.validation_accuracy,
            "final_loss": self.final_loss,
            "examples_seen": int(self.examples_seen),
            "epochs": int(self.epochs),
            "train_seconds": float(self.train_seconds),
            "wall_seconds": float(self.wall_seconds),
            "examples_per_second": self.examples_per_second,
            "weight_count": parameter_count(self.layers),
            "weights": weights,
            "weights_note": note,
        }


def network_name(layers: list[LayerSpec], preset: str) -> str:
    """The settings' network name for `layers`: `preset` when they are that preset, else "custom"."""
    return preset if PRESETS.get(preset) == layers else "custom"


def train_record(job: Any, owner: str) -> RunRecord | None:
    """The record of an ended TrainingJob, or None when it is not worth keeping (an error, nothing trained)."""
    view = job.view()
    if not Status(view.status).trained or view.examples_seen == 0:
        return None
    settings: TrainSettings = job.settings
    settings = settings.with_(preset=network_name(job.layers, settings.preset))
    last = view.last_epoch
    return RunRecord(
        owner=owner,
        kind="train",
        name=f"{settings.optimizer.label}, batch {settings.batch_size}",
        status=view.status,
        settings=settings,
        layers=list(job.layers),
        curves=train_curves(view.progress, view.history),
        test_accuracy=last.test_accuracy_crops if last else None,
        validation_accuracy=last.validation_accuracy if last else None,
        final_loss=view.loss,
        examples_seen=view.examples_seen,
        epochs=view.epoch,
        train_seconds=view.train_seconds,
        wall_seconds=view.elapsed_seconds,
        weights=job.weights()[1],
    )


def race_records(race: Any, owner: str, preset: str) -> list[RunRecord]:
    """A record per contestant of an ended Race (or RemoteRace) that trained (its statuses final, examples counted)."""
    records = []
    snap = race.view()
    for trained in race.trained():
        name = trained.contestant.name
        points = snap.points.get(name, ())
        status = snap.statuses.get(name, "")
        if not Status(status).trained or trained.examples == 0:
            continue
        settings = trained.contestant.settings(race.seed, race.crops)
        settings = settings.with_(preset=network_name(race.layers, preset))
        last = points[-1] if points else None
        records.append(
            RunRecord(
                owner=owner,
                kind="race",
                name=name,
                status=status,
                settings=settings,
                layers=list(race.layers),
                curves=race_curves(points),
                test_accuracy=last.test_accuracy if last else None,
                validation_accuracy=last.validation_accuracy if last else None,
                final_loss=last.loss if last else None,
                examples_seen=trained.examples,
                epochs=trained.examples // len(race.data.train),
                train_seconds=last.train_seconds if last else 0.0,
                wall_seconds=snap.elapsed_seconds,
                weights=trained.weights,
            )
        )
    return records
