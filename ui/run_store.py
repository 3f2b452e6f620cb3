"""The process's run store (mnist_core.store), configured from the environment or `[connections.runs]` secrets.

Jobs and races register a save for when they end; the save runs in their thread and touches no st.*. Settings
that name no usable store give a store whose `problem` says so (the Runs page shows it), never an exception.
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st

from mnist_core.store import RunStore, StoreConfig, race_records, store_config, train_record
from ui.browser_id import run_owner
from ui.markdown import escape_markdown

_LOG = logging.getLogger(__name__)


def _secrets() -> Any:
    """`[connections.runs]` from Streamlit's secrets (whatever it holds), or None when it is not there."""
    try:
        connections = st.secrets.get("connections")
        return connections.get("runs") if connections is not None else None
    except Exception:  # noqa: BLE001 - no secrets.toml, or one Streamlit cannot parse: the default store then
        return None


@st.cache_resource(show_spinner=False)
def _store_for(key: str, _config: StoreConfig) -> RunStore:
    """One store per configuration (`key` tells them apart; the config itself is not hashed); its notes logged once."""
    for message in (*_config.notes, _config.problem):
        if message:
            _LOG.warning("%s", message)
    return RunStore(_config.url, _config.limits, unusable=_config.problem, notes=_config.notes)


def run_store() -> RunStore:
    """The run store for this server (one per configuration: cheap, it opens the database on first use)."""
    config = store_config(secrets=_secrets())
    return _store_for(config.key, config)


def store_notes() -> None:
    """A warning for each store setting that was not usable and fell back to its default."""
    for note in run_store().notes:
        st.warning(escape_markdown(note), icon=":material/settings_alert:")


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
