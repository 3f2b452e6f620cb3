"""The side-by-side benchmark's bounds (tools.arithmetic): the convolutions-alone step does the convolution work of
a training step of the default net and nothing else, and the lowered products are the ones that work needs."""

import json
import subprocess
import sys
import time

import keras
import pytest

from mnist_core.model.architecture import PRESETS
from mnist_core.model.flops import training_flops
from mnist_core.settings import TrainSettings
from mnist_core.training.model_pool import new_training_model
from tests.conftest import REPO
from tools.arithmetic import (
    best_seconds,
    convolution_ceiling,
    lowered_matmul_gflops,
    lowered_products,
)
from tools.op_profile import op_profile

pytestmark = pytest.mark.timeout(300)

CONV1, CONV2 = 24 * 24 * 5 * 5 * 1 * 8, 12 * 12 * 5 * 5 * 8 * 16  # multiply-adds of the demo net's convolutions


def convolution_calls(profile: dict) -> dict[str, float]:
    """Convolution kernel calls per step by what they compute, whatever the build names its fused kernels."""
    calls = {"forward": 0.0, "weight gradient": 0.0, "input gradient": 0.0}
    for name, count in profile["kernel_calls_per_step"].items():
        if "Conv2D" in name:
            if "BackpropFilter" in name:
                calls["weight gradient"] += count
            elif "BackpropInput" in name:
                calls["input gradient"] += count
            else:
                calls["forward"] += count
    return calls


@pytest.fixture(scope="module")
def default_model():
    settings = TrainSettings()
    return new_training_model(PRESETS[settings.preset], settings).model


# The profiler sees every kernel in its process, so the step alone is profiled in a process of its own: in the test
# process, work left by earlier tests (a page's job ending, a copy syncing weights) would be counted with it.
_ALONE = """
import json
from mnist_core.model.architecture import PRESETS
from mnist_core.settings import TrainSettings
from mnist_core.training.model_pool import new_training_model
from tools.arithmetic import convolution_step
from tools.op_profile import op_profile
settings = TrainSettings()
step = convolution_step(new_training_model(PRESETS[settings.preset], settings).model, 128)
step()
print(json.dumps(op_profile(lambda: [step() for _ in range(10)], steps=10)["kernel_calls_per_step"]))
"""


def test_the_step_runs_the_convolutions_of_a_training_step_and_nothing_else(default_model, mnist):
    done = subprocess.run([sys.executable, "-c", _ALONE], cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    alone = {"kernel_calls_per_step": json.loads(done.stdout.strip().splitlines()[-1])}
    assert all("Conv2D" in name for name in alone["kernel_calls_per_step"]), alone["kernel_calls_per_step"]
    # Two conv layers: both forward, both weight gradients, and one input gradient (the first layer needs none).
    assert convolution_calls(alone) == {"forward": 2, "weight gradient": 2, "input gradient": 1}

    x, y = mnist.train.x[:2048].reshape(16, 128, 28, 28), mnist.train.y[:2048].reshape(16, 128)
    default_model.train_batches(x, y)
    training = op_profile(lambda: default_model.train_batches(x, y), steps=16)
    # The training step runs them once per part of its batch (mnist_core.training.replicas).
    parts = default_model.parts
    assert convolution_calls(training) == {kind: calls * parts for kind, calls in convolution_calls(alone).items()}


def test_the_counted_arithmetic_is_the_conv_layers_share_of_a_training_example(default_model):
    assert training_flops(default_model, kinds=(keras.layers.Conv2D,)) == 2 * (2 * (CONV1 + CONV2) + CONV2)
    dense = 4 * 4 * 16 * 10
    assert training_flops(default_model) == 2 * (2 * (CONV1 + CONV2 + dense) + CONV2 + dense)


def test_the_lowered_products_are_the_convolutions_as_matrices(default_model):
    products = lowered_products(default_model, 128)
    assert products == [
        (128 * 576, 25, 8),  # first conv forward: one row per output pixel, 5x5x1 inputs, 8 filters
        (25, 128 * 576, 8),  # its weight gradient
        (128 * 144, 200, 16),  # second conv forward: 5x5x8 inputs, 16 filters
        (200, 128 * 144, 16),
        (128 * 144, 16, 200),  # its input gradient
    ]
    assert sum(2 * m * k * n for m, k, n in products) == 128 * training_flops(
        default_model, kinds=(keras.layers.Conv2D,)
    )
    assert lowered_matmul_gflops(default_model, 16, seconds=0.01) > 0


def test_the_ceiling_reports_the_rate_of_its_steps(default_model):
    ceiling = convolution_ceiling(default_model, 64, steps=5, seconds=0.1)
    assert ceiling["batch_size"] == 64 and ceiling["ms_per_step"] > 0
    flops = 64 * training_flops(default_model, kinds=(keras.layers.Conv2D,))
    assert ceiling["gflops"] == pytest.approx(flops / ceiling["ms_per_step"] / 1e6, rel=0.01)


def test_best_seconds_takes_the_fastest_of_at_least_two_calls():
    durations = iter([0.02, 0.001, 0.03])
    calls = []

    def call():
        calls.append(1)
        time.sleep(next(durations, 0.03))

    best = best_seconds(call, seconds=0.0)
    assert len(calls) == 2 and 0.001 <= best < 0.015
