"""Fuzz uploaded images: mutated PNG, GIF, JPEG, WebP and BMP files are read or refused, never another exception.

The files are mutations of small valid ones made with Pillow (tools.fuzz_images: bytes, header fields, PNG chunks
and JPEG segments with valid lengths and checksums, repeated slices), through decode_image_with_notes and then
preprocess as on the Draw page. The longer run: `python -m tools.fuzz_images --examples N`.
"""

import warnings

import pytest
from hypothesis import HealthCheck, given, settings

from tools import fuzz_images as fuzz


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(fuzz.mutated_image())
def test_a_mutated_image_is_read_or_refused_within_bounds(case):
    what, data = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about damaged files it still reads
        said, failure = fuzz.outcome(data)
    assert failure is None, (what, failure)
    assert said == "read" or said.startswith(("refused: ", "no digit: ")), said


@pytest.mark.parametrize("name", sorted(fuzz.seeds()))
def test_the_fuzzer_starts_from_files_that_are_read(name):
    assert fuzz.outcome(fuzz.seeds()[name]) == ("read", None)


def test_a_bound_exceeded_is_a_failure(monkeypatch):
    monkeypatch.setattr(fuzz, "CPU_SECONDS", -1.0)
    said, failure = fuzz.outcome(fuzz.seeds()["png-rgb"])
    assert said == "read" and "over the bounds" in failure["error"]
