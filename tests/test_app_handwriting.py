"""The sidebar's "Your digits in training" and "Train with the class set" through AppTest, on a real SQLite store."""

from __future__ import annotations

import re

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.data.own_digits import MIN_FOR_TRAINING, unavailable_reason
from mnist_core.store import RunStore
from mnist_core.store.config import sqlite_url
from tests.conftest import BROKEN_STORE
from tests.test_app_digits import APP, _mine, _navigation_pages_only  # noqa: F401 - the fixture is autouse
from tests.test_query_settings import CLASS_YES, MINE_2
from ui.handwriting import WEIGHT
from ui.markdown import escape_markdown

pytestmark = pytest.mark.timeout(600)


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption]


def _plain(text: str) -> str:
    """Text shown through escape_markdown, with its escapes taken out."""
    return re.sub(r"\\(.)", r"\1", text)


def _train(at: AppTest):
    next(b for b in at.button if b.label == "Train").click().run()
    assert not at.exception, at.exception
    return at.session_state["job"]


def test_the_setting_says_why_it_is_unavailable_then_trains_on_the_digits(runs_file):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert not at.sidebar.toggle(key="own_digits").value  # off by default
    at.sidebar.toggle(key="own_digits").set_value(True).run()
    assert any(escape_markdown(unavailable_reason(0)) in c for c in _captions(at))
    assert WEIGHT not in _captions(at)

    _mine(at, runs_file, 5)
    job = _train(at)  # too few: the run trains on MNIST alone, and its settings say so
    assert job.extra is None and job.settings.own_digits == 0
    job.stop()
    next(b for b in at.button if b.label == "Reset").click().run()

    _mine(at, runs_file, MIN_FOR_TRAINING)
    at.run()
    assert not any("Save at least" in c for c in _captions(at))
    assert not at.sidebar.toggle(key="own_digits").disabled
    assert WEIGHT in _captions(at)
    assert at.query_params["mine"] == "1"  # in the link too
    job = _train(at)
    assert job.settings.own_digits == 1 and job.extra is not None
    split = job.extra.split
    assert len(split.train_y) + len(split.held_y) == 5 + MIN_FOR_TRAINING
    assert job.epoch_size == 55_000 + job.extra.per_epoch(55_000)
    job.stop()
    assert job.join(timeout=120)


def test_a_class_set_lesson_link_turns_the_class_set_on_and_locks_it(runs_file):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("pages/teachers.py").run()
    assert not at.exception, at.exception
    link = at.code[-1].value
    assert "class=1&lock=class&task=" in link, link
    assert any(escape_markdown(unavailable_reason(0, class_set=True)) in c.value for c in at.caption)

    store = RunStore(sqlite_url(runs_file), retry_seconds=0)
    rng = np.random.default_rng(2)
    for i in range(MIN_FOR_TRAINING + 4):
        image = np.zeros((28, 28), np.uint8)
        image[6:22, 10:18] = rng.integers(50, 256, (16, 8))
        store.digits.save(f"browser:student{i % 3}", image, i % 10)
    for i in range(3):
        store.digits.share_all(f"browser:student{i}", f"S{i}")
    store.dispose()

    student = AppTest.from_file(APP, default_timeout=120)
    student.query_params.update({"class": "1", "lock": "class"})
    student.run()
    assert not student.exception, student.exception
    switch = student.sidebar.toggle(key="class_digits")
    assert switch.value and switch.disabled
    assert any("Train with the class set: on (locked)" in m.value for m in student.sidebar.markdown)
    job = _train(student)
    assert job.settings.class_digits == 1 and job.extra is not None and job.extra.name == "the class set"
    assert len(job.extra.split.train_y) + len(job.extra.split.held_y) == MIN_FOR_TRAINING + 4
    job.stop()
    assert job.join(timeout=120)


@pytest.mark.parametrize(
    ("field", "label"), [("own_digits", "Your digits in training"), ("class_digits", "Train with the class set")]
)
def test_a_run_started_without_enough_digits_trains_on_mnist_alone_and_a_toast_says_why(runs_file, field, label):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    at.sidebar.toggle(key=field).set_value(True).run()
    if field == "own_digits":
        _mine(at, runs_file, 5)
        reason = unavailable_reason(5)
    else:
        store = RunStore(sqlite_url(runs_file), retry_seconds=0)
        for i in range(7):
            image = np.zeros((28, 28), np.uint8)
            image[6:22, 10:18] = 40 + i
            store.digits.save("browser:another-student", image, i)
        assert store.digits.share_all("browser:another-student", "Bo") == 7
        store.dispose()
        reason = unavailable_reason(7, class_set=True)
    job = _train(at)
    assert job.extra is None and getattr(job.settings, field) == 0  # MNIST alone, and its settings say so
    assert f"**{label}** is off for this run. {escape_markdown(reason)}" in [t.value for t in at.toast]
    job.stop()
    assert job.join(timeout=120)


def test_with_the_store_down_the_switches_and_the_class_set_say_why(broken_store):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    for field in ("own_digits", "class_digits"):
        at.sidebar.toggle(key=field).set_value(True).run()
        assert not at.exception, at.exception
    notes = [_plain(c) for c in _captions(at) if "cannot be read now" in _plain(c)]
    assert len(notes) == 2, _captions(at)  # one under each switch
    for note in notes:
        assert "Saved digits cannot be read now: " in note and "not an SQLite database" in note
        assert note.endswith("Until then a run trains on MNIST alone.")
    assert WEIGHT not in _captions(at)

    job = _train(at)
    assert job.extra is None and job.settings.own_digits == job.settings.class_digits == 0
    toasts = [_plain(t.value) for t in at.toast]
    assert sum("is off for this run. Saved digits cannot be read now: " in t for t in toasts) == 2, toasts
    job.stop()
    assert job.join(timeout=120)

    at.switch_page("pages/teachers.py").run()
    assert not at.exception, at.exception
    errors = [_plain(e.value) for e in at.error]
    assert any("The class set cannot be read now." in e and "not an SQLite database" in e for e in errors), errors
    assert broken_store.read_bytes() == BROKEN_STORE


def test_switch_values_in_a_link_other_than_0_or_1_give_one_notice_each_and_leave_them_off(runs_file):
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"mine": "2", "class": "yes"})
    at.run()
    assert not at.exception, at.exception
    [notice] = [_plain(t.value) for t in at.toast]
    assert notice.count(MINE_2) == notice.count(CLASS_YES) == 1 and notice.count("Ignored ") == 2
    assert not at.sidebar.toggle(key="own_digits").value and not at.sidebar.toggle(key="class_digits").value
    assert at.session_state["settings"].own_digits == at.session_state["settings"].class_digits == 0
    assert "mine" not in at.query_params and "class" not in at.query_params
    at.run()
    assert not at.toast  # once, not on every rerun
