"""People's own digits as data: the held-out fifth stays put across runs, an epoch's mix has its stated share."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest

from mnist_core.data.own_digits import (
    HELD_OUT_ONE_IN,
    MIN_FOR_TRAINING,
    is_held_out,
    mix_into_epoch,
    npz_bytes,
    repeats_for,
    split_held_out,
    unavailable_reason,
)


def test_the_held_out_fifth_is_about_a_fifth_and_depends_on_the_id_alone():
    ids = np.arange(1, 5001)
    held = np.array([is_held_out(i) for i in ids])
    assert abs(held.mean() - 1 / HELD_OUT_ONE_IN) < 0.02
    x = np.zeros((len(ids), 28, 28), np.uint8)
    y = (ids % 10).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(ids))  # listed in another order: the same digits held out
    a, b = split_held_out(ids, x, y), split_held_out(ids[order], x[order], y[order])
    assert len(a.held_y) == held.sum() and len(a.train_y) + len(a.held_y) == len(ids)
    assert sorted(a.held_y.tolist()) == sorted(b.held_y.tolist())
    more = split_held_out(np.arange(1, 6001), np.zeros((6000, 28, 28), np.uint8), np.zeros(6000, np.uint8))
    assert len(more.held_y) - len(a.held_y) == sum(is_held_out(i) for i in range(5001, 6001))  # new ones only


def test_the_held_out_rule_is_the_same_in_another_process():
    ids = list(range(1, 200))
    here = [is_held_out(i) for i in ids]
    code = f"from mnist_core.data.own_digits import is_held_out; print([is_held_out(i) for i in {ids}])"
    there = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={})
    assert there.stdout.strip() == str(here)  # no per-process hash seed involved


def test_split_refuses_arrays_that_do_not_match():
    with pytest.raises(ValueError, match="do not match"):
        split_held_out([1, 2], np.zeros((3, 28, 28)), [1, 2])


@pytest.mark.parametrize(("share", "extra"), [(0.05, 40), (0.1, 400), (0.5, 1000), (0.01, 5000)])
def test_extra_digits_form_the_stated_share_of_each_epoch(share, extra):
    x, y = np.zeros((55_000, 28, 28), np.uint8), np.zeros(55_000, np.uint8)
    ex, ey = np.full((extra, 28, 28), 7, np.uint8), np.full(extra, 3, np.uint8)
    mix = mix_into_epoch(x, y, ex, ey, share)
    assert mix.extra == mix.repeats * extra and len(mix.y) == 55_000 + mix.extra
    assert abs(mix.extra / len(mix.y) - share) < max(0.01, extra / len(mix.y))
    assert (mix.y[55_000:] == 3).all() and (mix.x[55_000:] == 7).all() and (mix.x[:55_000] == 0).all()


def test_no_extra_digits_leave_the_epoch_as_it_was_and_a_bad_share_is_refused():
    x, y = np.zeros((100, 28, 28), np.uint8), np.zeros(100, np.uint8)
    mix = mix_into_epoch(x, y, np.zeros((0, 28, 28)), [], 0.1)
    assert mix.x is x and mix.extra == 0
    for share in (0, -0.1, 0.9, float("nan")):
        with pytest.raises(ValueError, match="share"):
            repeats_for(share, 100, 10)


def test_too_few_digits_say_why():
    assert str(MIN_FOR_TRAINING) in unavailable_reason(3) and "you have 3" in unavailable_reason(3)
    assert unavailable_reason(MIN_FOR_TRAINING) is None


def test_the_npz_has_mnists_layout():
    x = np.arange(2 * 784, dtype=np.int64).reshape(2, 28, 28) % 256
    with np.load(io.BytesIO(npz_bytes(x, [4, 2]))) as f:
        assert sorted(f.files) == ["x", "y"]
        assert f["x"].dtype == np.uint8 and f["x"].shape == (2, 28, 28) and f["y"].dtype == np.uint8
        assert f["y"].tolist() == [4, 2] and (f["x"] == x).all()
