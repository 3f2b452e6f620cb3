"""Fuzz the drawing pad's value: any JSON, and data URLs of mutated PNGs and other formats, is read or refused.

The values come from tools.fuzz_pad (any JSON shape; the pad's own drawings, the upload fuzzer's seeds and formats
the pad never sends, mutated as files or with absurd IHDR sizes, under other MIME types, with broken base64 or
over the character cap), through decode_pad_value and then preprocess as on the Draw page. The longer run:
`python -m tools.fuzz_pad --examples N`.
"""

import warnings

import pytest
from hypothesis import HealthCheck, given, settings

from tools import fuzz_pad as fuzz


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(fuzz.pad_value())
def test_a_pad_value_is_a_drawing_or_not_within_bounds(case):
    what, value = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow warns about damaged files it still reads
        said, failure = fuzz.outcome(value)
    assert failure is None, (what, failure)
    assert said in ("read", "empty") or said.startswith(("not a drawing: ", "no digit: ")), said


@pytest.mark.parametrize("name", sorted(name for name in fuzz.seeds() if name.startswith("pad")))
def test_the_fuzzer_starts_from_drawings_that_are_read(name):
    assert fuzz.outcome({"png": fuzz.data_url(fuzz.seeds()[name]), "strokes": 1}) == ("read", None)


def test_every_hostile_value_is_refused_or_read_within_bounds():
    for name, url in fuzz.hostile_values().items():
        said, failure = fuzz.outcome({"png": url, "strokes": 1})
        assert failure is None, (name, failure)
        assert said == "read" if "drawing" in name else said.startswith("not a drawing: "), (name, said)
