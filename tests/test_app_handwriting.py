"""The sidebar's "Your digits in training" and "Train with the class set" through AppTest, on a real SQLite store."""

from __future__ import annotations

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnist_core.data.own_digits import MIN_FOR_TRAINING, unavailable_reason
from mnist_core.store import RunStore
from mnist_core.store.config import ENV_VAR, sqlite_url
from tests.test_app_digits import APP, _mine, _navigation_pages_only  # noqa: F401 - the fixture is autouse
from ui.handwriting import WEIGHT
from ui.markdown import escape_markdown

pytestmark = pytest.mark.timeout(600)


@pytest.fixture
def runs_file(monkeypatch, tmp_path):
    path = tmp_path / "runs.sqlite"
    monkeypatch.setenv(ENV_VAR, str(path))
    return path


def _captions(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption]


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
