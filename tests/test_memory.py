"""mnist_core.runtime.memory: freed memory goes back to the system (glibc; elsewhere the call is a no-op)."""

from __future__ import annotations

import gc
import threading

import psutil
import pytest

from mnist_core.runtime import memory

glibc = pytest.mark.skipif(memory._glibc() is None, reason="not glibc: nothing to trim")


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _fragment(keep: list) -> None:
    """Allocate ~300 MB in 1 kB blocks (above pymalloc's 512 bytes: from malloc) and free all but 1 in 500."""
    blocks = [bytes(1000) + bytes([i % 256]) for i in range(300_000)]
    keep.extend(blocks[::500])  # one live block per ~0.5 MB: malloc cannot shrink its heap from the top
    del blocks
    gc.collect()


@glibc
@pytest.mark.parametrize("where", ["main thread", "worker thread"])
def test_release_free_memory_hands_freed_pages_back(where: str) -> None:
    keep: list = []
    memory.release_free_memory()  # free pages left by earlier tests would absorb the allocation unseen
    before = _rss_mb()
    if where == "main thread":
        _fragment(keep)
    else:  # a training thread's arena
        worker = threading.Thread(target=_fragment, args=(keep,))
        worker.start()
        worker.join()
    held = _rss_mb()
    assert held - before > 200, (before, held)  # freed, but still the process's
    memory.release_free_memory()
    after = _rss_mb()
    assert after - before < 60, (before, held, after)
    assert len(keep) == 600 and all(len(b) == 1001 for b in keep)  # the live blocks are intact


def test_no_glibc_means_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.release_free_memory() is False


_LARGE_AND_SMALL = """
import ctypes, psutil
{setup}
rss = lambda: psutil.Process().memory_info().rss / 2**20
first = bytearray(8 * 2**20); del first  # glibc's dynamic threshold: 8 MB blocks now go to its heap
before = rss()
large, small = [], []
for i in range(40):
    large.append(bytearray(8 * 2**20))  # zero-filled: every page touched
    small.append(bytes(2000) + bytes([i]))  # long-lived, from malloc, right after each large block
del large
print(rss() - before)
"""


def _mb_held(script: str, *args: str) -> float:
    """Run `script` in a fresh process (so that nothing before it shaped its memory); the MB it printed last."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return float(out.stdout.strip().splitlines()[-1])


def _held_after_large_blocks(setup: str) -> float:
    return _mb_held(_LARGE_AND_SMALL.format(setup=setup))


@glibc
def test_freed_large_blocks_go_back_to_the_system_at_once() -> None:
    assert _held_after_large_blocks("") > 200  # glibc's default: the 320 MB freed stays with the process
    mapped = "from mnist_core.runtime.memory import map_large_blocks; assert map_large_blocks()"
    assert _held_after_large_blocks(mapped) < 40


_TENSOR_FREED = """
import os, sys
os.environ["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"] = sys.argv[1]
import numpy as np, psutil
import mnist_core
from mnist_core.runtime.memory import map_large_blocks, release_free_memory
assert map_large_blocks()
import tensorflow as tf
rss = lambda: psutil.Process().memory_info().rss / 2**20
release_free_memory()
before = rss()
images = np.random.default_rng(0).integers(0, 255, (100_000, 28, 28), dtype=np.uint8)[1:]  # 78 MB, copied
tensor = tf.constant(images) + 1  # an op's output: TensorFlow's allocator
del images, tensor
release_free_memory()
print(rss() - before)
"""


@glibc
def test_tensorflow_hands_freed_tensors_back() -> None:
    import os

    assert os.environ["TF_ONEDNN_USE_SYSTEM_ALLOCATOR"] == "1"  # set by mnist_core's import, as the app has it
    assert _mb_held(_TENSOR_FREED, "0") > 60  # oneDNN's own pool keeps what it once held
    assert _mb_held(_TENSOR_FREED, "1") < 20


_BUILDS_KEPT = """
import sys
from mnist_core.runtime.memory import map_large_blocks
from tools.bench_builds import bench_builds
assert map_large_blocks()
warm, more = int(sys.argv[1]), int(sys.argv[2])
readings = bench_builds(warm + more, warm)["rss_mb"]
print(readings[warm + more] - readings[warm])
"""

_LOADS_KEPT = """
import sys
from mnist_core.runtime.memory import map_large_blocks
from tools.bench_builds import bench_snapshots
assert map_large_blocks()
warm, more = int(sys.argv[1]), int(sys.argv[2])
readings = bench_snapshots(warm + more, warm)["rss_mb"]
print(readings[warm + more] - readings[warm])
"""


@glibc
def test_building_models_keeps_no_memory_per_build() -> None:
    # Each variable's scoped name (conv2d_17/kernel) used to key a kernel of its own in TensorFlow's cache: 250 kB
    # kept per ConvNetJS model, 50 MB over these 200 builds.
    assert _mb_held(_BUILDS_KEPT, "100", "200") < 8


@glibc
def test_loading_snapshots_keeps_no_memory_per_load() -> None:
    # Different files, as users upload (each saved from its own model): 500 kB kept per load, 20 MB over these 40.
    assert _mb_held(_LOADS_KEPT, "20", "40") < 5


def test_kernel_cache_workaround_still_finds_its_keras_internal() -> None:
    import keras

    from mnist_core.compat import keras_workarounds as kernel_cache
    from mnist_core.model.architecture import CONVNETJS, build_model

    where = "keras.src.backend.tensorflow.core.Variable._initialize"
    try:
        from keras.src.backend.tensorflow.core import Variable
    except ImportError:
        pytest.fail(
            f"Keras {keras.__version__} has no {where}: the kernel-cache hook in "
            "mnist_core/compat/keras_workarounds.py needs another"
        )
    assert callable(getattr(Variable, "_initialize", None)), f"Keras {keras.__version__} has no {where}"
    assert kernel_cache.keep_kernel_cache_bounded(), f"Keras {keras.__version__}: the hook on {where} does not work"
    assert kernel_cache.keep_kernel_cache_bounded()
    assert not hasattr(Variable._initialize.__wrapped__, "__wrapped__")  # wrapped once, however often called
    model = build_model(CONVNETJS)
    variables = [*model.weights, model.get_layer("random_crop").seed_generator.state]
    # TensorFlow sees one name (the same cache key every build); Keras's names and paths are as before.
    assert {v.value.name for v in variables} == {f"{kernel_cache.TF_NAME}:0"}
    assert [v.name for v in variables] == ["kernel", "bias"] * 3 + ["seed_generator_state"]
    assert [v.path.split("/")[0] for v in model.weights] == ["core"] * 6, [v.path for v in model.weights]


def test_kernel_cache_workaround_leaves_keras_alone_where_it_does_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    from mnist_core.compat import keras_workarounds as kernel_cache

    class Variable:  # a Keras whose variables no longer come out with the fixed name
        def _initialize(self, value):
            pass

    original = Variable._initialize
    monkeypatch.setattr(kernel_cache, "_installed", None)
    monkeypatch.setattr(kernel_cache, "_keras_tf_variable", lambda: Variable)
    monkeypatch.setattr(kernel_cache, "_works", lambda: False)
    assert kernel_cache.keep_kernel_cache_bounded() is False
    assert Variable._initialize is original
