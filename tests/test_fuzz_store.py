"""Property-based test of the run store's reads (tools/fuzz_store.py has the strategies and a longer run).

Rows of hostile values written straight into an SQLite store: listing, board, get, curves and count give valid runs
and count the rows they skip, never another exception, within the tool's time and memory bounds per input.
"""

import pytest
from hypothesis import HealthCheck, given, settings

from tools import fuzz_store as fuzz

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def fuzzed():
    with fuzz.fuzz_store() as held:
        yield held


def test_hostile_rows_are_read_as_valid_runs_or_skipped_and_counted(fuzzed):
    store, path = fuzzed

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(fuzz.ROWS)
    def check(rows):
        assert fuzz.outcome(store, path, rows) is None

    check()
