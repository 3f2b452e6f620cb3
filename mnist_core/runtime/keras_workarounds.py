"""Every place the app reaches into Keras's or TensorFlow's internals, in one module, each checked against the install.

Written for Keras 3.15 on TensorFlow 2.21. `INTERNALS` names what each workaround relies on; `missing_internals()`
lists what the installed versions no longer have, and tests/test_keras_workarounds.py fails naming it, so that an
upgrade cannot switch a workaround off silently. Importing this module does not import TensorFlow: the
environment must be set before TensorFlow loads.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from mnist_core.runtime.internals import missing_internals as internals_missing_from

if TYPE_CHECKING:
    import keras

WRITTEN_FOR = {"keras": "3.15", "tensorflow": "2.21"}
# workaround -> (module, attribute path) it needs
INTERNALS: dict[str, tuple[str, str]] = {
    "without_replica_sum": ("keras.src.backend.tensorflow.optimizer", "TFOptimizer._all_reduce_sum_gradients"),
    # model.optimizers.LiveMomentumSGD builds its own slots, skipping SGD.build, with the base class's helpers.
    "live_momentum_sgd": ("keras.optimizers", "Optimizer.add_optimizer_variables"),
    "live_momentum_sgd_index": ("keras.optimizers", "Optimizer._get_variable_index"),
    # mnist_core.kernel_cache names every TensorFlow variable alike (tests/test_memory.py checks the result).
    "keep_kernel_cache_bounded": ("keras.src.backend.tensorflow.core", "Variable._initialize"),
}


def _seed_state_named() -> bool:
    import keras

    return "seed_generator_state" in keras.random.SeedGenerator(0).state.path


# workaround -> a check of behaviour that no attribute shows
PROBES = {"seed_states": _seed_state_named}


def missing_internals() -> list[str]:
    """What the installed Keras or TensorFlow lacks of INTERNALS and PROBES, as 'workaround: what'."""
    missing = [f"{name}: {probe.__name__}" for name, probe in PROBES.items() if not probe()]
    return missing + internals_missing_from(INTERNALS)


def set_tensorflow_environment() -> None:
    """TensorFlow's switches that must be set before it is first imported (the user's own values win)."""
    # This TensorFlow build leaves oneDNN off by default; with it the 1-channel 5x5 conv trains ~7x faster on CPU.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # With oneDNN on, tensors of 256 kB and more come from a pool that grows to the largest set alive at once and
    # never shrinks (its BFC allocator): through malloc instead they go back once freed (mnist_core.runtime.memory).
    os.environ.setdefault("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "1")


def without_replica_sum(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """Skip the sum of gradients over replicas: this app trains on one, where the sum is the gradients.

    Keras's TensorFlow optimizers sum through `ReplicaContext.all_reduce`, which registers a gradient function
    in TensorFlow's process-wide registry at every trace and never removes it: each job's train step graph
    (~4 MB) would stay in memory for good after the job ended (tests/test_optimizers.py measures it).
    """
    if hasattr(optimizer, "_all_reduce_sum_gradients"):
        optimizer._all_reduce_sum_gradients = list  # (gradient, variable) pairs, as they are
    return optimizer


def seed_states(model: keras.Model) -> list[keras.Variable]:
    """The state variables of a model's random seed generators (the crop layer's), found by Keras's naming."""
    return [v for v in model.variables if "seed_generator_state" in v.path]
