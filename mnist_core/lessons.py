"""Lesson links: a teacher's link that hides or locks chosen sidebar controls and carries a short task.

Parameters, beside the settings ones (ui.query_settings), each read once when a session opens the link:

    hide=NAMES   controls not shown (their values: the link's, else the defaults)
    lock=NAMES   controls shown but not changeable
    allow=NAMES  with hide=all or lock=all: the controls that stay changeable
    task=TEXT    a short task shown at the top of the Train page, as plain text

NAMES: comma-separated control names, the settings' link names (opt, lr, momentum, rho, eps, beta1, beta2, batch,
decay, epochs, k, seed, ema, anneal, stop, mine, class, net), or `all`. A name both hidden and locked is hidden.
Example: only the learning rate can be changed, on SGD, with a task:
`?opt=sgd&lr=0.5&hide=all&allow=lr&task=Find+the+largest+rate+that+trains`. `class=1&lock=class` opens a lesson
that trains with the class set (class_set_lesson).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlencode

from mnist_core.settings import FIELDS

# Control name (as in a link) -> the setting it draws; the order is the sidebar's.
CONTROLS: dict[str, str] = {"opt": "optimizer", **{spec.url: name for name, spec in FIELDS.items()}, "net": "preset"}
_CONTROL_OF = {setting: name for name, setting in CONTROLS.items()}
LESSON_PARAMS = ("hide", "lock", "allow", "task")
ALL = "all"
MAX_TASK_CHARS = 500
MAX_LIST_CHARS = 200  # every control name, comma-separated, is ~60 characters


@dataclass(frozen=True)
class Lesson:
    """What a link hides and locks (by setting field) and its task; `notices` say what of the link was not used."""

    hidden: frozenset[str] = frozenset()
    locked: frozenset[str] = frozenset()
    task: str = ""
    notices: tuple[str, ...] = ()
    params: dict[str, str] = field(default_factory=dict)  # the lesson's own parameters, as read (for the URL)

    @property
    def active(self) -> bool:
        return bool(self.hidden or self.locked or self.task)

    @property
    def hides_everything(self) -> bool:
        return set(CONTROLS.values()) <= self.hidden

    def shows(self, setting: str) -> bool:
        return setting not in self.hidden

    def locks(self, setting: str) -> bool:
        return setting in self.locked

    def fixed(self) -> list[str]:
        """The settings a student cannot change, in sidebar order."""
        return [s for s in CONTROLS.values() if s in self.hidden or s in self.locked]


NO_LESSON = Lesson()


def read_lesson(params: Mapping[str, str | list[str]]) -> Lesson:
    """Validate a query string's lesson parameters; anything unusable is named in a notice and left out."""
    raw = {name: _last(params[name]) for name in LESSON_PARAMS if name in params}
    notices: list[str] = []
    lists = {name: _names(name, raw.get(name, ""), notices) for name in ("hide", "lock", "allow")}
    allowed = lists["allow"] - {ALL}
    if ALL in lists["allow"]:
        notices.append("allow=all means nothing is fixed: ignored.")
    if allowed and ALL not in lists["hide"] and ALL not in lists["lock"]:
        notices.append("allow= has an effect only with hide=all or lock=all: ignored.")

    def expand(names: set[str]) -> frozenset[str]:
        chosen = set(CONTROLS) - allowed if ALL in names else names
        return frozenset(CONTROLS[n] for n in chosen if n in CONTROLS)

    hidden = expand(lists["hide"])
    locked = expand(lists["lock"]) - hidden
    task = _task(raw.get("task", ""), notices)
    kept = {name: value for name, value in raw.items() if value}
    return Lesson(hidden, locked, task, tuple(notices), kept)


def lesson_query(settings_params: Mapping[str, str], allowed: list[str], hide_rest: bool, task: str = "") -> str:
    """The query string of a lesson link: these settings, only `allowed` controls changeable, the rest hidden or
    locked; `task` (cut to MAX_TASK_CHARS)."""
    unknown = [name for name in allowed if name not in CONTROLS]
    if unknown:
        raise ValueError(f"unknown controls: {', '.join(unknown)}")
    params = dict(settings_params)
    params["hide" if hide_rest else "lock"] = ALL
    if allowed:
        params["allow"] = ",".join(name for name in CONTROLS if name in allowed)
    if task.strip():
        params["task"] = task.strip()[:MAX_TASK_CHARS]
    return urlencode(params)


CLASS_SET_TASK = (
    "Train with the class's own handwriting mixed in. The accuracy chart's extra line is how the network reads "
    "the class's digits it never trained on: how does it compare with the MNIST test accuracy?"
)


def class_set_query(settings_params: Mapping[str, str], task: str = CLASS_SET_TASK) -> str:
    """The query string of a lesson that trains with the class set: that switch on and locked, the rest free."""
    switch = control_name("class_digits")
    params = {**settings_params, switch: "1", "lock": switch}
    if task.strip():
        params["task"] = task.strip()[:MAX_TASK_CHARS]
    return urlencode(params)


def control_name(setting: str) -> str:
    """The link name of a setting's control ("learning_rate" -> "lr")."""
    return _CONTROL_OF[setting]


def _names(param: str, raw: str, notices: list[str]) -> set[str]:
    if len(raw) > MAX_LIST_CHARS:
        notices.append(f"Ignored {param}= from the link: {len(raw):,} characters is too long for a list of controls.")
        return set()
    names = {part.strip().lower() for part in raw.split(",") if part.strip()}
    unknown = sorted(n for n in names if n not in CONTROLS and n != ALL)
    if unknown:
        shown = ", ".join(_printable(n)[:20] for n in unknown[:5]) + (", …" if len(unknown) > 5 else "")
        notices.append(f"Ignored unknown control name(s) in {param}=: {shown}. Known: {', '.join(CONTROLS)} or {ALL}.")
    return names - set(unknown)


def _task(raw: str, notices: list[str]) -> str:
    text = "".join(c if c.isprintable() or c == "\n" else "\ufffd" for c in raw.strip())
    if len(text) > MAX_TASK_CHARS:
        notices.append(
            f"The task text from the link has {len(text):,} characters: only the first {MAX_TASK_CHARS} are shown."
        )
        text = text[:MAX_TASK_CHARS] + "…"
    return text


def _last(value: str | list[str]) -> str:
    if isinstance(value, str):
        return value
    return value[-1] if value else ""


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else "\ufffd" for c in text)
