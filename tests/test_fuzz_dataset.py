"""Fuzz the dataset file loader with mutated .npz files: a Mnist or a DatasetError, never another exception.

The files are mutations of a small valid .npz (tools.fuzz_dataset: headers, bodies, bombs, zip fields, raw bytes),
with the loader told to expect the small file's shapes. The longer run: `python -m tools.fuzz_dataset --examples N`.
"""

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from tools import fuzz_dataset as fuzz


@settings(max_examples=200, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(fuzz.mutated_npz())
def test_a_mutated_npz_loads_or_is_refused_within_bounds(case):
    what, blob = case
    with fuzz.small_mnist(), tempfile.TemporaryDirectory() as folder:
        said, failure = fuzz.outcome(blob, Path(folder))
    assert failure is None, (what, failure)
    assert said == "loaded" or said.startswith("refused: MNIST file"), said


def test_the_fuzzer_starts_from_a_file_that_loads():
    with fuzz.small_mnist(), tempfile.TemporaryDirectory() as folder:
        assert fuzz.outcome(fuzz.zip_bytes(fuzz.small_members()), Path(folder)) == ("loaded", None)
