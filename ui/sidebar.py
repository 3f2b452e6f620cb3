"""The sidebar shared by every page: optimizer and training settings, validated."""

from __future__ import annotations

from functools import partial

import streamlit as st

from mnist_core.budget import check_step_memory
from mnist_core.settings import FIELDS, OPTIMIZERS, SettingsError, TrainSettings, validate_settings
from ui.network import PRESET_KEY, network_choices, network_label
from ui.query_settings import initial_values, mirror_to_link

SETTINGS = "settings"
_HELP = {
    "learning_rate": "Step size. Changes apply to a running job from the next batch.",
    "momentum": "Changes apply to a running job from the next batch.",
    "weight_decay": "L2 penalty on conv and dense weights, ConvNetJS-style (added once per batch). "
    "Changes apply from the next epoch.",
    "batch_size": "Examples per update. Changes apply to a running job from the next epoch.",
    "epochs": "Passes over the 55,000 training images.",
    "crops": "Random 24x24 crops whose softmax is averaged per prediction.",
    "averaging": "Momentum of a running average of the weights, written back after each epoch: it settles the "
    "noise of a constant learning rate. 0 turns it off. Changing it needs Reset.",
    "preset": "The layers trained. Edit them, or build your own, on the Inside the network page.",
    "seed": "Seeds the initial weights, data order and crops: the same seed gives the same run.",
}


def _start(key: str, value: object, argument: str = "value") -> dict[str, object]:
    """A widget's starting value, unless session state holds one (written by a snapshot's "Continue training").

    Streamlit warns when a widget gets both; the state's value wins either way.
    """
    return {} if key in st.session_state else {argument: value}


def sidebar_settings() -> TrainSettings | None:
    """Draw the sidebar; return the valid settings, or None after showing each field's error."""
    defaults = TrainSettings()
    linked = initial_values()  # a shared link's settings by widget key, on the session's first run only
    with st.sidebar:
        st.subheader("Training settings")
        names = list(OPTIMIZERS)
        name = st.selectbox(
            "Optimizer",
            names,
            **_start("optimizer", names.index(linked.get("optimizer", defaults.optimizer.name)), "index"),
            format_func=lambda n: OPTIMIZERS[n].label,
            key="optimizer",
        )
        raw: dict = {"optimizer": name}
        for field, default in OPTIMIZERS[name].fields.items():
            key = f"{name}.{field}"
            raw[field] = st.text_input(
                FIELDS[field].label, **_start(key, linked.get(key, f"{default:g}")), key=key, help=_HELP.get(field)
            )
        left, right = st.columns(2)
        raw["batch_size"] = left.number_input(
            "Batch size",
            **_start("batch_size", linked.get("batch_size", defaults.batch_size)),
            step=16,
            key="batch_size",
            help=_HELP["batch_size"],
        )
        raw["epochs"] = right.number_input(
            "Epochs",
            **_start("epochs", linked.get("epochs", defaults.epochs)),
            step=1,
            key="epochs",
            help=_HELP["epochs"],
        )
        raw["weight_decay"] = st.text_input(
            FIELDS["weight_decay"].label,
            **_start("weight_decay", linked.get("weight_decay", f"{defaults.weight_decay:g}")),
            key="weight_decay",
            help=_HELP["weight_decay"],
        )
        raw["averaging"] = st.text_input(
            FIELDS["averaging"].label,
            **_start("averaging", linked.get("averaging", f"{defaults.averaging:g}")),
            key="averaging",
            help=_HELP["averaging"],
        )
        raw["crops"] = left.number_input(
            "Crops (k)",
            **_start("crops", linked.get("crops", defaults.crops)),
            step=1,
            key="crops",
            help=_HELP["crops"],
        )
        raw["seed"] = right.number_input(
            "Seed", **_start("seed", linked.get("seed", defaults.seed)), step=1, key="seed", help=_HELP["seed"]
        )
        choices = network_choices()
        raw["preset"] = st.selectbox(
            "Network",
            list(choices),
            **_start(PRESET_KEY, list(choices).index(linked.get(PRESET_KEY, defaults.preset)), "index"),
            format_func=partial(network_label, choices=choices),
            key=PRESET_KEY,
            help=_HELP["preset"],
        )
        try:
            settings = validate_settings(raw, choices)
            network = f"the network “{network_label(settings.preset, choices)}”"
            if problem := check_step_memory(choices[settings.preset], settings.batch_size, network):
                raise SettingsError({"batch_size": problem})  # one training step would not fit the memory budget
        except SettingsError as exc:
            for message in exc.errors.values():
                st.error(message, icon=":material/error:")
            settings = None
    st.session_state[SETTINGS] = settings
    mirror_to_link(settings)
    return settings
