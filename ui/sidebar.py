"""The sidebar shared by every page: optimizer and training settings, validated."""

from __future__ import annotations

from functools import partial

import streamlit as st

from mnist_core.model.budget import check_step_memory
from mnist_core.settings import FIELDS, OPTIMIZERS, RUN_FIELDS, SettingsError, TrainSettings, validate_settings
from ui.handwriting import TOGGLES, WEIGHT, toggle_note
from ui.lessons import current_lesson, keep_in_url, lesson_panel, lesson_widget
from ui.network import PRESET_KEY, network_choices, network_label
from ui.query_settings import initial_values, mirror_to_link

SETTINGS = "settings"
PRESET_HELP = "The layers trained. Edit them, or build your own, on the Inside the network page."


def _start(key: str, value: object, argument: str = "value") -> dict[str, object]:
    """A widget's starting value, unless session state holds one (written by a snapshot's "Continue training").

    Streamlit warns when a widget gets both; the state's value wins either way.
    """
    return {} if key in st.session_state else {argument: value}


def _field_input(where, key: str, field: str, initial: object) -> object:
    """The widget for one numeric setting, drawn from its FieldSpec: whole numbers step, the rest are typed."""
    spec = FIELDS[field]
    if spec.integer:
        label = spec.short or spec.label
        return lesson_widget(field, key, initial, lambda locked: where.number_input(
            label, **_start(key, initial), step=spec.step, key=key, help=spec.help or None, disabled=locked
        ))  # fmt: skip
    shown = initial if isinstance(initial, str) else f"{initial:g}"
    return lesson_widget(field, key, shown, lambda locked: where.text_input(
        spec.short or spec.label, **_start(key, shown), key=key, help=spec.help or None, disabled=locked
    ))  # fmt: skip


def _toggle(field: str, initial: bool) -> tuple[int, bool]:
    """An on/off setting as a switch: (1 or 0, whether its digits can be used), with why not (ui.handwriting)."""
    spec = FIELDS[field]
    on = lesson_widget(field, field, initial, lambda locked: st.toggle(
        spec.label, **_start(field, initial), key=field, help=f"{spec.about} {WEIGHT} {spec.applies.note}",
        disabled=locked,
    ))  # fmt: skip
    return int(bool(on)), toggle_note(st, field, bool(on))


def sidebar_settings() -> TrainSettings | None:
    """Draw the sidebar; return the valid settings, or None after showing each field's error."""
    defaults = TrainSettings()
    linked = initial_values()  # a shared link's settings by widget key, on the session's first run only
    current_lesson()  # a lesson link's hidden and locked controls, read on the same first run
    with st.sidebar:
        st.subheader("Training settings")
        lesson_box = st.empty()
        names = list(OPTIMIZERS)
        name = lesson_widget("optimizer", "optimizer", defaults.optimizer.name, lambda locked: st.selectbox(
            "Optimizer",
            names,
            **_start("optimizer", names.index(linked.get("optimizer", defaults.optimizer.name)), "index"),
            format_func=lambda n: OPTIMIZERS[n].label,
            key="optimizer",
            disabled=locked,
        ))  # fmt: skip
        raw: dict = {"optimizer": name}
        for field, default in OPTIMIZERS[name].fields.items():
            raw[field] = _field_input(st, f"{name}.{field}", field, linked.get(f"{name}.{field}", default))
        # Number inputs, two to a row, then text inputs; the switches come last (ui.handwriting).
        whole = [f for f in RUN_FIELDS if FIELDS[f].integer and not FIELDS[f].toggle]
        for pair in (whole[i : i + 2] for i in range(0, len(whole), 2)):
            for column, field in zip(st.columns(2), pair):
                raw[field] = _field_input(column, field, field, linked.get(field, getattr(defaults, field)))
        for field in (f for f in RUN_FIELDS if not FIELDS[f].integer):
            raw[field] = _field_input(st, field, field, linked.get(field, getattr(defaults, field)))
        choices = network_choices()
        raw["preset"] = lesson_widget("preset", PRESET_KEY, defaults.preset, lambda locked: st.selectbox(
            "Network",
            list(choices),
            **_start(PRESET_KEY, list(choices).index(linked.get(PRESET_KEY, defaults.preset)), "index"),
            format_func=partial(network_label, choices=choices),
            key=PRESET_KEY,
            help=PRESET_HELP,
            disabled=locked,
        ))  # fmt: skip
        usable = False
        for field in TOGGLES:
            raw[field], ready = _toggle(field, linked.get(field, bool(getattr(defaults, field))))
            usable |= ready
        if usable:
            st.caption(WEIGHT)
        try:
            settings = validate_settings(raw, choices)
            network = f"the network “{network_label(settings.preset, choices)}”"
            if problem := check_step_memory(choices[settings.preset], settings.batch_size, network):
                raise SettingsError({"batch_size": problem})  # one training step would not fit the memory budget
        except SettingsError as exc:
            for message in exc.errors.values():
                st.error(message, icon=":material/error:")
            settings = None
        lesson_panel(lesson_box, settings)
    st.session_state[SETTINGS] = settings
    mirror_to_link(settings)
    keep_in_url()
    return settings
