"""The process's run store (mnist_core.store), configured from the environment or `[connections.runs]` secrets.

Jobs and races register a save for when they end; the save runs in their thread and touches no st.*.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import streamlit as st
from sqlalchemy.engine import URL

from mnist_core.store import Limits, RunStore, race_records, store_url, train_record
from ui.browser_id import run_owner

_LOG = logging.getLogger(__name__)


def _secrets() -> Mapping[str, Any] | None:
    """`[connections.runs]` from Streamlit's secrets, if there are secrets and that table is in them."""
    try:
        connections = st.secrets.get("connections")
        runs = connections.get("runs") if connections is not None else None
    except Exception:  # noqa: BLE001 - no secrets.toml, or one Streamlit cannot parse: the default store then
        return None
    return dict(runs) if runs is not None else None


@st.cache_resource(show_spinner=False)
def _store_at(url: URL) -> RunStore:
    return RunStore(url, Limits.from_env())


def run_store() -> RunStore:
    """The run store for this server (one per configured URL; cheap: it opens the database on first use)."""
    return _store_at(store_url(secrets=_secrets()))


def save_when_done(job: Any) -> None:
    """Save a TrainingJob to the run store when it ends (finished, stopped or diverged)."""
    store, owner = run_store(), run_owner()

    def save(ended: Any) -> None:
        record = train_record(ended, owner)
        if record is not None:
            store.save(record)

    job.on_end(save)


def save_race_when_done(race: Any, preset: str) -> None:
    """Save each contestant of a Race that trained to the run store when the race ends."""
    store, owner = run_store(), run_owner()
    race.on_end(lambda ended: [store.save(record) for record in race_records(ended, owner, preset)])
