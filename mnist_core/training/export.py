"""Metrics history as a table (CSV) for download."""

from __future__ import annotations

from dataclasses import asdict

import pandas as pd

from mnist_core.training.run_state import RunView


def history_frame(snap: RunView) -> pd.DataFrame:
    """Live progress rows and per-epoch evaluation rows, ordered by examples seen."""
    progress = pd.DataFrame([asdict(p) for p in snap.progress])
    epochs = pd.DataFrame([asdict(r) for r in snap.history])
    if not epochs.empty:
        epochs = epochs.rename(columns={"train_loss": "epoch_train_loss", "train_accuracy": "epoch_train_accuracy"})
    frames = [f for f in (progress, epochs) if not f.empty]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values("examples_seen", kind="stable").reset_index(drop=True)


def history_csv(snap: RunView) -> str:
    return history_frame(snap).to_csv(index=False)
