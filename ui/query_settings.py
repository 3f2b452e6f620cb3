"""The sidebar settings mirrored in the URL query string, so that a link reproduces a set-up.

Parameters (only values that differ from the defaults appear, so a default set-up has a clean URL):

    opt      optimizer (adadelta, sgd, momentum, nesterov, adagrad, rmsprop, adam)
    lr       learning rate            momentum  momentum           rho    rho
    eps      epsilon                  beta1     beta 1             beta2  beta 2
    batch    batch size               decay     L2 weight decay    epochs epochs
    k        crops per prediction     seed      seed               ema    weight averaging
    anneal   learning-rate anneal     stop      stop at test accuracy (%)
    mine     your digits in training (1 on, 0 off)     class  train with the class set (1 on, 0 off)
    net      network preset (convnetjs, large; "custom" marks a network from the layer editor,
             which a link cannot carry: opening such a link falls back to the default network)

A link is read once, on a session's first script run: each valid value becomes its sidebar widget's
initial value, and each bad one is named in one notice (a toast) together with the value used instead.
After that the URL follows the sidebar on every run (which also puts the parameters back after a switch
of page: Streamlit's page navigation drops the query string); while a sidebar field is invalid the URL
keeps the last valid set-up. Unknown parameters are ignored silently and left in the
URL: the query string is shared with Streamlit (`embed`) and with any widget bound to it, so they are
not ours to judge. A repeated parameter counts with its last value, as `st.query_params[name]` does.

Streamlit's own `bind="query-params"` is not used: it names parameters after widget keys
(`adadelta.learning_rate`), drops bad values without telling the user, lets any text into a text input,
and (1.67) raises OverflowError on `?seed=inf` for an integer number_input.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from mnist_core.model.architecture import PRESET_LABELS, PRESETS
from mnist_core.settings import (
    FIELDS,
    OPTIMIZER_FIELDS,
    OPTIMIZERS,
    RUN_FIELDS,
    SettingsError,
    TrainSettings,
    default_optimizer,
    parse_field,
)
from ui.markdown import escape_markdown
from ui.network import CUSTOM, PRESET_KEY

# URL name -> settings field ("optimizer" and "preset" are names, the rest numbers in FIELDS).
PARAMS: dict[str, str] = {"opt": "optimizer", **{spec.url: name for name, spec in FIELDS.items()}, "net": "preset"}
_NAME = {setting: name for name, setting in PARAMS.items()}
# No setting needs more characters than this; longer values are refused without being parsed or echoed whole.
MAX_VALUE_CHARS = 40

_READ = "query_settings_read"  # session flag: this session's link has been read


@dataclass(frozen=True)
class Link:
    """The valid settings a query string asks for (by settings field) and a notice per bad parameter."""

    values: dict[str, Any] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)


def read_link(params: Mapping[str, str | list[str]]) -> Link:
    """Validate the known parameters of a query string; unknown ones are ignored."""
    raw = {name: _last(params[name]) for name in PARAMS if name in params}
    values: dict[str, Any] = {}
    notices: list[str] = []

    def refuse(name: str, reason: str, fallback: Any = None) -> None:
        using = "" if fallback is None else f" Using {fallback}."
        notices.append(_printable(f"Ignored {name}={_shown(raw[name])} from the link: {reason}{using}"))

    defaults = TrainSettings()
    optimizer = defaults.optimizer.name
    if "opt" in raw:
        try:
            _check_length("optimizer", raw["opt"])
            optimizer = values["optimizer"] = default_optimizer(raw["opt"].strip().lower()).name
        except SettingsError as exc:
            refuse("opt", exc.errors["optimizer"], OPTIMIZERS[optimizer].label)
    own_fields = OPTIMIZERS[optimizer].fields
    for name, setting in PARAMS.items():
        if name not in raw or setting in ("optimizer", "preset"):
            continue
        if setting in OPTIMIZER_FIELDS and setting not in own_fields:
            refuse(name, f"{OPTIMIZERS[optimizer].label} has no {FIELDS[setting].label.lower()} setting.")
            continue
        try:
            _check_length(setting, raw[name])
            values[setting] = parse_field(setting, raw[name])
        except SettingsError as exc:
            default = own_fields[setting] if setting in own_fields else getattr(defaults, setting)
            refuse(name, exc.errors[setting], _text(default))
    if "net" in raw:
        try:
            _check_length("preset", raw["net"])
            values["preset"] = _preset(raw["net"].strip().lower())
        except SettingsError as exc:
            refuse("net", exc.errors["preset"], PRESET_LABELS[defaults.preset])
    return Link(values, notices)


def widget_state(values: Mapping[str, Any]) -> dict[str, Any]:
    """The sidebar's widget keys and values for valid link values (see ui/sidebar.py for the keys)."""
    optimizer = values.get("optimizer", TrainSettings().optimizer.name)
    state: dict[str, Any] = {}
    for setting, value in values.items():
        if setting == "optimizer":
            state["optimizer"] = value
        elif setting == "preset":
            state[PRESET_KEY] = value
        elif setting in OPTIMIZER_FIELDS:
            state[f"{optimizer}.{setting}"] = _text(value)
        elif FIELDS[setting].toggle:
            state[setting] = bool(value)
        else:  # whole-number fields are number inputs, the rest text inputs
            state[setting] = int(value) if FIELDS[setting].integer else _text(value)
    return state


def link_params(settings: TrainSettings) -> dict[str, str]:
    """The query parameters that reproduce `settings`: only those that differ from the defaults."""
    defaults = TrainSettings()
    params: dict[str, str] = {}
    optimizer = settings.optimizer
    if optimizer.name != defaults.optimizer.name:
        params["opt"] = optimizer.name
    for setting, value in optimizer.params.items():
        if value != OPTIMIZERS[optimizer.name].fields[setting]:
            params[_NAME[setting]] = _text(value)
    for setting in (*RUN_FIELDS, "preset"):
        value = getattr(settings, setting)
        if value != getattr(defaults, setting):
            params[_NAME[setting]] = _text(value)
    return params


def initial_values() -> dict[str, Any]:
    """On a session's first run, the link's valid settings by widget key (bad ones are toasted); later, {}.

    The sidebar passes them as its widgets' initial values. (Writing them into st.session_state instead
    makes Streamlit log a warning with a stack trace, since the widgets also have a `value`.)
    """
    if st.session_state.get(_READ):
        return {}
    st.session_state[_READ] = True
    link = read_link({name: st.query_params.get_all(name) for name in PARAMS if name in st.query_params})
    if link.notices:
        # A toast outlives the reruns that follow (a sidebar message would vanish at the next click);
        # it stays until dismissed because it says which of the link's values were not used.
        st.toast("\n\n".join(escape_markdown(n) for n in link.notices), icon=":material/link_off:", duration="infinite")
    return widget_state(link.values)


def mirror_to_link(settings: TrainSettings | None) -> None:
    """Make the URL's settings parameters match `settings` (None, i.e. invalid: leave the URL as it is)."""
    if settings is None:
        return
    wanted = link_params(settings)
    # Only actual changes are written: each write makes the browser push a history entry (never a rerun).
    changed = {name: value for name, value in wanted.items() if st.query_params.get_all(name) != [value]}
    if changed:
        st.query_params.update(changed)
    for name in PARAMS:
        if name not in wanted and name in st.query_params:
            del st.query_params[name]


def _last(value: str | list[str]) -> str:
    if isinstance(value, str):
        return value
    return value[-1] if value else ""


def _check_length(setting: str, raw: str) -> None:
    """Refuse a value too long to be a setting before parsing it (and before echoing it in a message)."""
    if len(raw) > MAX_VALUE_CHARS:
        label = FIELDS[setting].label if setting in FIELDS else {"optimizer": "Optimizer", "preset": "Network"}[setting]
        raise SettingsError({setting: f"{label}: a value of {len(raw):,} characters is too long."})


def _preset(name: str) -> str:
    """A preset a link may name: any but a network from the layer editor, which only its session has."""
    if name == CUSTOM:
        raise SettingsError({"preset": "a network built in the layer editor cannot travel in a link."})
    if name not in PRESETS:
        raise SettingsError({"preset": f"Network: unknown preset '{name}' (choose from {', '.join(PRESETS)})."})
    return name


def _shown(raw: str) -> str:
    """A link value as it may appear in a message: short."""
    return raw if len(raw) <= MAX_VALUE_CHARS else raw[:20] + "…"


def _printable(text: str) -> str:
    """`text` with control characters (a link may carry newlines) replaced by U+FFFD."""
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


def _text(value: Any) -> str:
    """A setting as text: the short form when it reads back exactly (0.05, 1e-06), else the full repr."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))
