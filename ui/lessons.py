"""A lesson link in the session: read once, kept in the URL, its controls hidden or locked, its task shown.

The link format is mnist_core.lessons'. The settings' values come from the same link's settings parameters
(ui.query_settings): a hidden control keeps the link's value (else the default) for the whole session.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from mnist_core.lessons import CONTROLS, LESSON_PARAMS, NO_LESSON, Lesson, read_lesson
from mnist_core.model.architecture import PRESET_LABELS
from mnist_core.settings import FIELDS, OPTIMIZER_FIELDS, TrainSettings
from ui.markdown import escape_markdown
from ui.query_settings import PARAMS, read_link, widget_state

LESSON = "lesson"  # the session's Lesson
FIXED = "lesson_values"  # the link's valid settings by sidebar widget key: a hidden control's value
_READ = "lesson_read"


def current_lesson() -> Lesson:
    """The session's lesson (NO_LESSON without one); read from the URL on the session's first run."""
    if not st.session_state.get(_READ):
        st.session_state[_READ] = True
        params = {name: st.query_params.get_all(name) for name in (*LESSON_PARAMS, *PARAMS) if name in st.query_params}
        lesson = read_lesson(params)
        st.session_state[LESSON] = lesson
        st.session_state[FIXED] = widget_state(read_link(params).values)  # its notices are ui.query_settings'
        if lesson.notices:
            notices = "\n\n".join(escape_markdown(n) for n in lesson.notices)
            st.toast(notices, icon=":material/school:", duration="infinite")
    return st.session_state.get(LESSON, NO_LESSON)


def lesson_widget(setting: str, key: str, initial: Any, draw: Callable[[bool], Any]) -> Any:
    """`draw(disabled)` for a shown control (disabled when the lesson locks it); a hidden one's fixed value."""
    lesson = current_lesson()
    if not lesson.shows(setting):
        return st.session_state.get(FIXED, {}).get(key, initial)
    return draw(lesson.locks(setting))


def keep_in_url() -> None:
    """Put the lesson's parameters back into the URL (a page switch drops the query string), so a reload keeps it."""
    lesson = current_lesson()
    missing = {name: value for name, value in lesson.params.items() if st.query_params.get(name) != value}
    if missing:
        st.query_params.update(missing)


def lesson_panel(where, settings: TrainSettings | None) -> None:
    """In the sidebar: which settings the lesson link fixed, with their values."""
    lesson = current_lesson()
    if not (lesson.hidden or lesson.locked):
        return
    with where.container(border=True):
        st.markdown("**:material/school: Lesson link**")
        free = [_label(s) for s in CONTROLS.values() if s not in lesson.fixed() and _applies(s, settings)]
        if not free and all(s in lesson.hidden for s in lesson.fixed() if _applies(s, settings)):
            st.info(
                "This lesson fixes every setting, so none is shown: press **Train** or **Step** to train with them.",
                icon=":material/lock:",
            )
        rows = [f"- {_label(s)}: {_value(s, settings)} ({'hidden' if s in lesson.hidden else 'locked'})"
                for s in lesson.fixed() if _applies(s, settings)]  # fmt: skip
        st.markdown("Fixed by the link:\n" + "\n".join(rows))
        if free:
            st.caption("You can change: " + ", ".join(free).lower() + ".")
        else:
            st.caption("You can change none of the settings.")


def task_box() -> None:
    """The lesson's task at the top of the Train page, shown literally (no Markdown, no HTML)."""
    lesson = current_lesson()
    if lesson.task:
        with st.container(border=True):
            st.markdown("**:material/assignment: Your task**")
            st.text(lesson.task)


def _label(setting: str) -> str:
    if setting == "optimizer":
        return "Optimizer"
    if setting == "preset":
        return "Network"
    return FIELDS[setting].label


def _applies(setting: str, settings: TrainSettings | None) -> bool:
    """An optimizer's own setting shows only for the optimizer in use."""
    return setting not in OPTIMIZER_FIELDS or settings is None or setting in settings.optimizer.params


def _value(setting: str, settings: TrainSettings | None) -> str:
    if settings is None:
        return "(the sidebar is invalid)"
    if setting == "optimizer":
        return settings.optimizer.label
    if setting == "preset":
        return PRESET_LABELS.get(settings.preset, settings.preset)
    value = settings.optimizer.params[setting] if setting in settings.optimizer.params else getattr(settings, setting)
    if FIELDS[setting].toggle:
        return "on" if value else "off"
    return f"{value:g}" if isinstance(value, float) else f"{value:,}"
