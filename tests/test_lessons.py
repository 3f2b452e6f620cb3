"""Lesson links: parsing and validation (mnist_core.lessons)."""

from urllib.parse import parse_qs

from mnist_core.lessons import CONTROLS, MAX_TASK_CHARS, lesson_query, read_lesson
from mnist_core.settings import FIELDS


def test_controls_are_the_settings_link_names():
    assert set(CONTROLS.values()) == {"optimizer", "preset", *FIELDS}
    assert CONTROLS["lr"] == "learning_rate" and CONTROLS["net"] == "preset" and CONTROLS["opt"] == "optimizer"


def test_no_lesson_parameters_make_no_lesson():
    lesson = read_lesson({"lr": "0.5", "ref": "mail"})
    assert not lesson.active and not lesson.notices and lesson.fixed() == []


def test_hide_all_but_the_learning_rate():
    lesson = read_lesson({"hide": "all", "allow": "lr", "task": "Find the best rate"})
    assert lesson.hidden == frozenset(CONTROLS.values()) - {"learning_rate"}
    assert lesson.shows("learning_rate") and not lesson.locks("learning_rate")
    assert not lesson.shows("preset") and not lesson.hides_everything
    assert lesson.task == "Find the best rate" and not lesson.notices
    assert lesson.params == {"hide": "all", "allow": "lr", "task": "Find the best rate"}


def test_lock_lists_and_hide_wins_over_lock():
    lesson = read_lesson({"lock": "net, OPT ,batch", "hide": "batch"})
    assert lesson.locked == {"preset", "optimizer"} and lesson.hidden == {"batch_size"}
    assert lesson.fixed() == ["optimizer", "batch_size", "preset"]  # in sidebar order


def test_a_repeated_parameter_counts_with_its_last_value():
    assert read_lesson({"lock": ["net", "lr"]}).locked == {"learning_rate"}


def test_hiding_every_control_is_allowed_and_said():
    lesson = read_lesson({"hide": "all"})
    assert lesson.hides_everything and lesson.active and not lesson.notices


def test_unknown_control_names_are_named_and_ignored():
    lesson = read_lesson({"hide": "net,foo,<b>x</b>", "lock": "lr"})
    assert lesson.hidden == {"preset"} and lesson.locked == {"learning_rate"}
    [notice] = lesson.notices
    assert "unknown control name(s) in hide=" in notice and "<b>x</b>, foo" in notice and "Known: opt, lr" in notice


def test_allow_without_all_and_allow_all_are_ignored_with_a_notice():
    assert "only with hide=all or lock=all" in read_lesson({"allow": "lr", "lock": "net"}).notices[0]
    lesson = read_lesson({"lock": "all", "allow": "all"})
    assert lesson.locked == frozenset(CONTROLS.values()) and "allow=all" in lesson.notices[0]


def test_a_long_list_is_refused_unparsed():
    lesson = read_lesson({"hide": "net," * 1000})
    assert not lesson.hidden and "too long" in lesson.notices[0]


def test_a_10_kb_task_is_cut_with_a_notice_and_markup_kept_literally():
    text = "<script>alert(1)</script> **bold** [x](http://e.org)\n" + "y" * 10_240
    lesson = read_lesson({"task": text})
    assert len(lesson.task) == MAX_TASK_CHARS + 1 and lesson.task.endswith("…")
    assert lesson.task.startswith("<script>alert(1)</script> **bold** [x](http://e.org)\n")  # literal, unescaped
    assert "10,293 characters" in lesson.notices[0] and f"first {MAX_TASK_CHARS}" in lesson.notices[0]


def test_control_characters_in_the_task_are_replaced_but_newlines_kept():
    assert read_lesson({"task": "a\x00b\nc\x1b"}).task == "a\ufffdb\nc\ufffd"


def test_lesson_query_round_trips():
    query = lesson_query({"opt": "sgd", "lr": "0.5"}, ["lr", "epochs"], hide_rest=True, task=" Try 0.5 ")
    params = parse_qs(query)
    assert params == {"opt": ["sgd"], "lr": ["0.5"], "hide": ["all"], "allow": ["lr,epochs"], "task": ["Try 0.5"]}
    lesson = read_lesson({k: v for k, v in params.items()})
    assert lesson.hidden == frozenset(CONTROLS.values()) - {"learning_rate", "epochs"} and not lesson.locked
    locked = read_lesson(parse_qs(lesson_query({}, [], hide_rest=False)))
    assert locked.locked == frozenset(CONTROLS.values()) and not locked.hidden


def test_lesson_query_refuses_unknown_controls():
    import pytest

    with pytest.raises(ValueError, match="unknown controls: foo"):
        lesson_query({}, ["foo"], hide_rest=True)
