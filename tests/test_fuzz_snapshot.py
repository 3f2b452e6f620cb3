"""Fuzz the snapshot loader with Hypothesis: a snapshot or SnapshotError, never another exception, within bounds.

Each input mutates a real snapshot (tools.fuzz_snapshot.tiny_snapshot, saved by save_snapshot): its manifest, its
model.keras's config.json, or its bytes. A longer run: `python -m tools.fuzz_snapshot --examples 3000`.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from tools.fuzz_snapshot import mutated_snapshots, outcome, tiny_snapshot

pytestmark = pytest.mark.timeout(600)

# 10-500 ms of CPU per input here (a refusal, or a full load): the file takes ~10 s of CPU after TensorFlow's import.
FUZZ = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module", autouse=True)
def _seed_file() -> None:
    tiny_snapshot()  # built (Keras imported, a model saved) before Hypothesis times or draws anything


def _check(case: tuple[str, bytes]) -> None:
    what, data = case
    _result, found = outcome(data)
    assert found is None, f"{what}: {found}"


@FUZZ
@given(mutated_snapshots("manifest"))
def test_mutated_manifests_load_or_are_refused(case):
    _check(case)


@FUZZ
@given(mutated_snapshots("config"))
def test_mutated_keras_configs_load_or_are_refused(case):
    _check(case)


@FUZZ
@given(mutated_snapshots("bytes"))
def test_mutated_bytes_load_or_are_refused(case):
    _check(case)


def test_the_seed_file_loads():
    from mnist_core.snapshots import load_snapshot

    assert load_snapshot(tiny_snapshot()).weight_count == 2458
