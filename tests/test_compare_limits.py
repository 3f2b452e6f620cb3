"""The Compare page's stated limits through AppTest: contestants per race and a race's memory."""

import pytest

from mnist_core.settings import default_optimizer
from mnist_core.training import contestants as contestants_module
from mnist_core.training.contestants import Contestant, contestant_rows
from tests.test_app import _button, _compare_page, _navigation_pages_only  # noqa: F401 - an autouse fixture

pytestmark = pytest.mark.timeout(600)


def test_the_compare_page_states_its_limits_and_refuses_rows_and_races_beyond_them(monkeypatch):
    at = _compare_page()
    assert any("At most 12 contestants race" in c.value and "MB of memory" in c.value for c in at.caption)
    at.session_state["compare_rows"] = contestant_rows(
        [Contestant(f"c{i}", default_optimizer("sgd")) for i in range(40)]
    )
    at.session_state["compare_version"] = 99
    at.run()
    assert not at.exception, at.exception
    [refusal] = [e.value for e in at.error]  # one message for the 28 rows beyond the limit, not 28
    assert refusal.startswith("Rows 12 to 39 will not race: a race takes at most 12 contestants")
    assert not _button(at, "Start race").disabled and _button(at, "Duplicate row").disabled  # the first 12 may race
    monkeypatch.setattr(contestants_module, "RACE_MEMORY_BUDGET_BYTES", 50 * 2**20)
    at.run()
    assert any("The race cannot start" in e.value and "limit on this server is 50 MB" in e.value for e in at.error)
    assert _button(at, "Start race").disabled
