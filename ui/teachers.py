"""The For teachers page: a lesson link from the sidebar's settings, the controls students may change and a task."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit, urlunsplit

import streamlit as st

from mnist_core.lessons import CONTROLS, MAX_TASK_CHARS, lesson_query, read_lesson
from mnist_core.settings import FIELDS
from ui.class_set import class_set_section
from ui.query_settings import link_params
from ui.sidebar import SETTINGS

PAGE_PATH = "teachers"  # this page's url_path (streamlit_app.py)
_LABELS = {"opt": "Optimizer", "net": "Network", **{spec.url: spec.label for spec in FIELDS.values()}}


def teachers_page() -> None:
    st.title("For teachers")
    st.caption(
        "Make a link for a class: it opens the app with the settings in the sidebar now, lets students change "
        "only the controls you choose, and shows your task at the top of the Train page. Set the sidebar first."
    )
    settings = st.session_state.get(SETTINGS)
    if settings is None:
        st.error("Some settings in the sidebar are invalid: fix them to make a link.", icon=":material/error:")
        return
    allowed = st.multiselect(
        "Students can change",
        list(CONTROLS),
        default=["lr"],
        format_func=lambda name: f"{_LABELS[name]} ({name})",
        key="teacher_allowed",
        help="Controls an optimizer does not have (e.g. momentum for Adadelta) never show.",
    )
    rest = st.radio("The other controls are", ["shown but locked", "hidden"], horizontal=True, key="teacher_rest")
    task = st.text_area(
        "Task for the students (optional; shown as plain text)",
        max_chars=MAX_TASK_CHARS,
        key="teacher_task",
        placeholder="e.g. Find the largest learning rate that still trains. What happens above it?",
    )
    query = lesson_query(link_params(settings), allowed, rest == "hidden", task)
    link = f"{_app_root()}?{query}"
    st.subheader("The link")
    st.code(link, language=None, wrap_lines=True)
    st.link_button("Open it as a student would (new tab)", link, icon=":material/open_in_new:")
    lesson = read_lesson({k: v for k, v in parse_qs(query).items()})
    if lesson.hides_everything:
        st.warning(
            "This link hides every control: students train with exactly the settings above and cannot change any.",
            icon=":material/visibility_off:",
        )
    elif not allowed:
        st.warning("Students can change nothing: every control is locked.", icon=":material/lock:")
    shown = [f"{_LABELS[name]} = {value}" for name, value in link_params(settings).items()]
    st.caption(
        "Settings the link carries (the rest are defaults): " + (", ".join(shown) if shown else "none, all defaults")
        + ". docs/teaching.md in the repository describes the format."
    )  # fmt: skip
    class_set_section(_app_root(), link_params(settings), task)


def _app_root() -> str:
    """The app's address as the browser has it, without this page's path (a lesson opens on the Train page)."""
    parts = urlsplit(st.context.url or "")
    path = parts.path.rstrip("/")
    if path.endswith(f"/{PAGE_PATH}") or path == PAGE_PATH:
        path = path[: -len(PAGE_PATH)]
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/") + "/", "", ""))
