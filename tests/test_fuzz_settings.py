"""Property-based tests of the settings boundary (tools/fuzz_settings.py has the strategies and a longer run).

Settings dicts, link query strings and contestant tables of hostile values: valid settings or the module's own
error naming the field, never another exception, within the tool's time and memory bounds per input. Run store
settings (any text in its variables, any shape of `[connections.runs]`): a usable store or a problem naming the
setting, limits in range, never another exception.
"""

import pytest
from hypothesis import HealthCheck, given, settings

from tools.fuzz_settings import QUERIES, SETTINGS_DICTS, STORE_SETTINGS, TABLES, outcome

pytestmark = pytest.mark.timeout(300)
BOUNDED = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@BOUNDED
@given(SETTINGS_DICTS)
def test_settings_dicts_give_valid_settings_or_name_each_bad_field(raw):
    assert outcome("settings", raw) is None


@BOUNDED
@given(QUERIES)
def test_query_strings_give_valid_values_and_short_notices(query):
    assert outcome("link", query) is None


@BOUNDED
@given(TABLES)
def test_contestant_tables_race_valid_rows_and_flag_the_rest(rows):
    assert outcome("table", rows) is None


@BOUNDED
@given(STORE_SETTINGS)
def test_store_settings_give_a_usable_store_or_a_problem_naming_the_setting(settings):
    assert outcome("store", settings) is None
