"""A run's status is one enumeration; the pages ask it questions instead of comparing strings."""

from __future__ import annotations

import ast
import pickle

import pytest

from mnist_core.training.run_state import RunState
from mnist_core.training.status import Status
from tests.conftest import REPO

NAMES = {status.value for status in Status}


@pytest.mark.parametrize(
    ("status", "final", "trained", "can_pause", "training"),
    [
        (Status.WAITING, False, False, True, False),
        (Status.QUEUED, False, False, False, False),
        (Status.STARTING, False, False, True, True),
        (Status.RUNNING, False, False, True, True),
        (Status.PAUSED, False, False, True, False),
        (Status.STOPPING, False, False, False, True),
        (Status.FINISHED, True, True, False, False),
        (Status.STOPPED, True, True, False, False),
        (Status.DIVERGED, True, True, False, False),
        (Status.ERROR, True, False, False, False),
    ],
)
def test_each_status_answers_the_pages_questions(status, final, trained, can_pause, training):
    assert (status.final, status.trained, status.can_pause, status.training) == (final, trained, can_pause, training)
    assert status.waiting == (status is Status.QUEUED)
    assert status.failed == (status in (Status.DIVERGED, Status.ERROR))
    assert pickle.loads(pickle.dumps(status)) is status  # a cluster run's view crosses processes


def test_statuses_are_their_names_as_text_for_the_store_and_the_tables():
    assert Status.FINISHED == "finished" and f"{Status.RUNNING}" == "running" and Status("paused") is Status.PAUSED
    assert [s.label for s in (Status.STARTING, Status.RUNNING, Status.STOPPING, Status.ERROR)] == [
        "Starting…",
        "Training",
        "Stopping…",
        "Error",
    ]


def test_a_run_state_holds_a_status_whatever_it_is_given():
    state = RunState(1, 10)
    state.set_status("running")
    assert state.view().status is Status.RUNNING
    state.update(status="stopped")
    assert state.view().status is Status.STOPPED and state.view().final
    with pytest.raises(ValueError):
        state.set_status("sleeping")


def _literal_uses(tree: ast.AST) -> list[int]:
    """Lines where a status name is compared, passed as a status, or listed beside another status name."""

    def is_name(node: ast.AST) -> bool:
        return isinstance(node, ast.Constant) and node.value in NAMES

    def uses(node: ast.AST) -> bool:
        if isinstance(node, ast.Compare):
            return any(is_name(n) for n in [node.left, *node.comparators])
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            return sum(map(is_name, node.elts)) >= 2
        if isinstance(node, ast.Call):
            named = any(k.arg == "status" and is_name(k.value) for k in node.keywords)
            return named or (getattr(node.func, "attr", None) == "set_status" and any(map(is_name, node.args)))
        return False

    return sorted({node.lineno for node in ast.walk(tree) if uses(node)})


def test_no_status_name_is_used_as_text_outside_the_enumeration():
    found = []
    for path in [*REPO.glob("mnist_core/**/*.py"), *REPO.glob("ui/*.py"), *REPO.glob("pages/*.py")]:
        if path.name != "status.py":
            found += [f"{path.relative_to(REPO)}:{line}" for line in _literal_uses(ast.parse(path.read_text()))]
    assert found == []


def test_the_check_finds_each_kind_of_use():
    source = 'a == "paused"\nb in ("queued", "stopping")\nstate.set_status("error")\nview(status="stopped")\nf("x")'
    assert _literal_uses(ast.parse(source)) == [1, 2, 3, 4]
