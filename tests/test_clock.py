"""The training clock counts the spans it is told to run, less the spans marked as not training."""

import time

from mnist_core.training.clock import TrainingClock


def test_the_clock_counts_running_spans_only_and_leaves_out_excluded_ones():
    clock = TrainingClock()
    time.sleep(0.05)  # stopped: not counted
    assert clock.seconds == 0.0
    with clock.running():
        time.sleep(0.1)
        with clock.excluded():
            time.sleep(0.1)
    counted = clock.seconds
    assert 0.09 < counted < 0.19
    time.sleep(0.05)
    assert clock.seconds == counted  # stopped again after the block
    clock.start()
    clock.exclude(10.0)  # more than the span: a trace measured elsewhere
    clock.stop()
    assert clock.seconds < counted


def test_a_running_block_inside_a_running_clock_leaves_it_running():
    clock = TrainingClock()
    clock.start()
    with clock.running():
        pass
    time.sleep(0.05)
    assert clock.seconds >= 0.05
    clock.stop()
    frozen = clock.seconds
    time.sleep(0.02)
    assert clock.seconds == frozen
