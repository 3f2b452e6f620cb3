"""The benchmark's op-by-op profile (tools.op_profile) on the default net training real MNIST batches."""

import pytest

from mnist_core.model.architecture import PRESETS
from mnist_core.settings import TrainSettings
from mnist_core.training.model_pool import new_training_model
from tools.op_profile import op_profile

pytestmark = pytest.mark.timeout(300)


def test_the_profile_names_the_convolution_kernels_and_the_threads_that_ran_them(mnist):
    settings = TrainSettings()
    held = new_training_model(PRESETS[settings.preset], settings)
    x, y = mnist.train.x[:2048].reshape(16, 128, 28, 28), mnist.train.y[:2048].reshape(16, 128)
    held.model.train_batches(x, y)  # traces the step outside the profile

    profile = op_profile(lambda: held.model.train_batches(x, y), steps=16, top=50)

    kernels = profile["kernel_ms_per_step"]
    convolution = [name for name in kernels if "Conv2D" in name]
    assert any("BackpropFilter" in name for name in convolution), kernels
    assert any("BackpropInput" in name for name in convolution), kernels
    assert all(ms > 0 for ms in kernels.values())
    assert "GatherV2" in kernels and "Transpose" in kernels, kernels  # the random crop's row gathers
    assert not any(name.startswith(" ") or "::" in name for name in kernels), kernels
    busy = profile["inter_op_threads_busy_ms_per_step"]
    assert busy and all(ms > 0 for ms in busy)
    # The kernels ran inside the step, so together they take at most what the threads were busy, and some of it.
    assert 0 < sum(kernels.values()) <= sum(busy) + profile["wall_ms_per_step"]
    assert profile["wall_ms_per_step"] > 0 and profile["steps"] == 16
