"""Property-based tests of the layer boundary (tools/fuzz_layers.py has the strategies and a longer run).

Layer lists (as a snapshot's manifest holds them) and layer-editor tables of random, hostile rows: ArchitectureError
whose every message names its row, or a valid network the editor shows and gives back; never another exception;
within the tool's time and memory bounds per input. A few valid networks are trained a step in Keras.
"""

import keras  # noqa: F401 - before any test: importing TensorFlow raises the recursion limit, which Hypothesis minds
import pytest
from hypothesis import HealthCheck, given, settings

from tools.fuzz_layers import LAYER_LISTS, TABLES, _plausible_network, outcome, train_one_step

pytestmark = pytest.mark.timeout(300)
BOUNDED = settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@BOUNDED
@given(LAYER_LISTS)
def test_layer_lists_give_a_valid_network_or_name_each_bad_row(layers):
    assert outcome("layers", layers)[0] is None


@BOUNDED
@given(TABLES)
def test_editor_tables_give_a_valid_network_or_name_each_bad_row(rows):
    assert outcome("table", rows)[0] is None


@settings(max_examples=3, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(_plausible_network(0.0))
def test_valid_networks_train_in_keras(layers):
    found, network = outcome("layers", layers)
    assert found is None
    if network is not None:
        train_one_step(network)
