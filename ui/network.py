"""Which layer list the session trains: a preset from the sidebar, or the network applied in the layer editor."""

from __future__ import annotations

import streamlit as st

from mnist_core.model.architecture import PRESET_LABELS, PRESETS, LayerSpec, parameter_count
from mnist_core.settings import TrainSettings

CUSTOM = "custom"
CUSTOM_LAYERS = "custom_layers"
PRESET_KEY = "preset"  # the sidebar's network selectbox


def network_choices() -> dict[str, list[LayerSpec]]:
    """The presets, plus the session's own network once one has been applied."""
    custom = st.session_state.get(CUSTOM_LAYERS)
    return {**PRESETS, CUSTOM: custom} if custom else dict(PRESETS)


def network_label(name: str, choices: dict[str, list[LayerSpec]] | None = None) -> str:
    """A network's name for people; pass `choices` when the label may be formatted outside a script run."""
    if name == CUSTOM:
        layers = (choices or network_choices()).get(CUSTOM)
        return f"Your network from the editor ({parameter_count(layers):,} weights)" if layers else "Your network"
    return PRESET_LABELS.get(name, name)


def layers_for(settings: TrainSettings) -> list[LayerSpec]:
    """The layer list `settings` names."""
    return network_choices().get(settings.preset, PRESETS["convnetjs"])


def apply_network(layers: list[LayerSpec]) -> None:
    """Make `layers` the session's network (a widget callback: it runs before the sidebar is drawn)."""
    from ui.session import stop_job

    st.session_state[CUSTOM_LAYERS] = [dict(spec) for spec in layers]
    st.session_state[PRESET_KEY] = CUSTOM
    stop_job()
