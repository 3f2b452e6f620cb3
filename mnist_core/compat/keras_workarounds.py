"""Every place the app reaches into Keras's or TensorFlow's internals, in one module, each checked against the install.

Verified on Keras 3.15 and TensorFlow 2.21 (`VERIFIED`). `INTERNALS` names what each workaround relies on and
`PROBES` checks behaviour a name does not show; tests/test_library_workarounds.py fails naming what the installed
versions changed, so that an upgrade cannot switch a workaround off silently. Importing this module does not
import TensorFlow: the environment must be set before TensorFlow loads.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
from typing import TYPE_CHECKING

from mnist_core.compat.internals import failed_probes
from mnist_core.compat.internals import missing_internals as internals_missing_from

if TYPE_CHECKING:
    import keras

_log = logging.getLogger(__name__)

VERIFIED = {"keras": ("3.15", "3.16"), "tensorflow": ("2.21", "2.22")}
# workaround -> (module, attribute path) it needs
INTERNALS: dict[str, tuple[str, str]] = {
    "without_replica_sum": ("keras.src.backend.tensorflow.optimizer", "TFOptimizer._all_reduce_sum_gradients"),
    # live_momentum_sgd builds its own slots, skipping SGD.build, with the base class's helpers.
    "live_momentum_sgd": ("keras.optimizers", "Optimizer.add_optimizer_variables"),
    "live_momentum_sgd_index": ("keras.optimizers", "Optimizer._get_variable_index"),
    # fused_adadelta reads Adadelta's slots by their private names (a probe checks it steps as Keras's does).
    "fused_adadelta": ("keras.optimizers", "Adadelta.update_step"),
    # keep_kernel_cache_bounded names every TensorFlow variable alike (tests/test_memory.py checks the result).
    "keep_kernel_cache_bounded": ("keras.src.backend.tensorflow.core", "Variable._initialize"),
    "warm_average": ("keras.optimizers", "Optimizer._update_model_variables_moving_average"),
    # tools.op_profile reads the profiler's trace file through TensorFlow's own copy of its protocol buffer.
    "profile_planes": ("tensorflow.tsl.profiler.protobuf.xplane_pb2", "XSpace"),
}


def _seed_state_named() -> bool:
    import keras

    return "seed_generator_state" in keras.random.SeedGenerator(0).state.path


def _average_slots_kept() -> bool:
    import keras

    optimizer = keras.optimizers.SGD(use_ema=True)
    optimizer.build([keras.Variable(0.0)])
    return len(getattr(optimizer, "_model_variables_moving_average", ())) == 1


def _fused_adadelta_steps_as_keras() -> bool:
    """Three steps of fused_adadelta leave the weights and slots where Keras's Adadelta leaves them."""
    import keras
    import numpy as np

    results = []
    for optimizer in (keras.optimizers.Adadelta(3.0, rho=0.95, epsilon=1e-6), fused_adadelta()(3.0, 0.95, 1e-6)):
        weight = keras.Variable(np.linspace(-1, 1, 6, dtype="float32"))
        optimizer.build([weight])
        for step in range(3):
            optimizer.apply([keras.ops.convert_to_tensor(np.cos(np.arange(6) + step).astype("float32"))], [weight])
        results.append(
            [
                weight.numpy(),
                *(v.numpy() for v in optimizer._accumulated_grads),
                *(v.numpy() for v in optimizer._accumulated_delta_vars),
            ]
        )
    return len(results[1]) == 3 and all(np.allclose(a, b, rtol=1e-5, atol=1e-7) for a, b in zip(*results))


# workaround -> a check of behaviour that no attribute shows
PROBES = {
    "seed_states": _seed_state_named,
    "warm_average_slots": _average_slots_kept,
    "fused_adadelta": _fused_adadelta_steps_as_keras,
}


def missing_internals() -> list[str]:
    """What the installed Keras or TensorFlow lacks of INTERNALS and PROBES, as 'workaround: what'."""
    return failed_probes(PROBES) + internals_missing_from(INTERNALS)


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


def warm_average(optimizer: keras.optimizers.Optimizer) -> keras.optimizers.Optimizer:
    """Let the weight average's momentum grow as min(momentum, (1 + t) / (10 + t)) over the first steps t.

    Keras's average uses its full momentum from the second step, so after a few hundred steps it is still mostly
    the initial weights (0.99 ** 156 = 21% after 20,000 examples at batch 128); TensorFlow's own
    ExponentialMovingAverage warms up this way (its `num_updates`).
    """
    if not getattr(optimizer, "use_ema", False):
        return optimizer
    import tensorflow as tf

    def update(trainable_variables) -> None:
        t = tf.cast(optimizer.iterations, "float32")  # 0 at the first step: the average starts there
        warm = tf.minimum(tf.cast(optimizer.ema_momentum, "float32"), (t + 1) / (t + 10))
        keep = tf.where(t > 0, warm, 0.0)
        for var, average in zip(trainable_variables, optimizer._model_variables_moving_average):
            if average is None:
                continue
            # average -= (1 - keep) * (average - var), as TensorFlow's assign_moving_average, in one op a variable:
            # each op of the step costs TensorFlow's executor more than its arithmetic here.
            tf.raw_ops.ResourceApplyGradientDescent(var=average.handle, alpha=1 - keep, delta=average - var)

    optimizer._update_model_variables_moving_average = update
    return optimizer


@functools.cache
def live_momentum_sgd() -> type:
    """Keras's SGD with its momentum in a variable, so a running job can change it without retracing.

    Keras's SGD reads momentum as a Python float at trace time; this one reads a variable, with slots it builds
    itself through the base class's helpers. Made (and registered for saving) on first use: Keras loads then.
    """
    import keras
    from keras import ops

    @keras.saving.register_keras_serializable(package="mnist_live")
    class LiveMomentumSGD(keras.optimizers.SGD):
        """SGD whose momentum is a variable (mnist_core.compat.keras_workarounds.live_momentum_sgd)."""

        def __init__(self, *args, live_momentum: bool = False, **kwargs):
            super().__init__(*args, **kwargs)
            self.live_momentum = live_momentum or self.momentum != 0

        def build(self, variables):
            if self.built:
                return
            super(keras.optimizers.SGD, self).build(variables)  # skip SGD.build: it decides slots by momentum != 0
            self.momentums = self.add_optimizer_variables(variables, "momentum") if self.live_momentum else []
            self.momentum_variable = self.add_variable(
                (), initializer=keras.initializers.Constant(self.momentum), name="live_momentum"
            )

        def get_config(self):
            return {**super().get_config(), "live_momentum": self.live_momentum}

        def update_step(self, gradient, variable, learning_rate):
            if not self.momentums:
                return super().update_step(gradient, variable, learning_rate)
            learning_rate = ops.cast(learning_rate, variable.dtype)
            gradient = ops.cast(gradient, variable.dtype)
            momentum = ops.cast(self.momentum_variable, variable.dtype)
            m = self.momentums[self._get_variable_index(variable)]
            self.assign(m, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate)))
            if self.nesterov:
                step = ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate))
                self.assign_add(variable, step)
            else:
                self.assign_add(variable, m)

    return LiveMomentumSGD


@functools.cache
def fused_adadelta() -> type:
    """Keras's Adadelta whose step is TensorFlow's ResourceApplyAdadelta: one op a variable instead of about twenty.

    The same arithmetic (the probe `fused_adadelta` checks it against Keras's): each op of a training step costs
    TensorFlow's executor more than its arithmetic on this app's small weights. Made on first use: Keras loads then.
    """
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="mnist_live")
    class FusedAdadelta(keras.optimizers.Adadelta):
        """Adadelta in one TensorFlow op a variable (mnist_core.compat.keras_workarounds.fused_adadelta)."""

        def update_step(self, grad, variable, learning_rate):
            index = self._get_variable_index(variable)
            dtype = variable.dtype
            tf.raw_ops.ResourceApplyAdadelta(
                var=variable.handle,
                accum=self._accumulated_grads[index].handle,
                accum_update=self._accumulated_delta_vars[index].handle,
                lr=tf.cast(learning_rate, dtype),
                rho=tf.constant(self.rho, dtype),
                epsilon=tf.constant(self.epsilon, dtype),
                grad=tf.cast(grad, dtype),
            )

    return FusedAdadelta


def seed_states(model: keras.Model) -> list[keras.Variable]:
    """The state variables of a model's random seed generators (the crop layer's), found by Keras's naming."""
    return [v for v in model.variables if "seed_generator_state" in v.path]


_kernel_cache_lock = threading.Lock()
_installed: bool | None = None  # decided once per process
TF_NAME = "variable"  # what TensorFlow calls every Keras variable (its debug name, in error messages)


def keep_kernel_cache_bounded() -> bool:
    """Give every Keras variable the same TensorFlow name from now on (once per process); True if in place.

    TensorFlow's eager runtime caches a kernel per op and attribute values for the life of the process, and a
    variable's VarHandleOp carries its name. Keras names every layer and optimizer slot anew (`conv2d_17`,
    `core_conv2d_17_kernel_momentum`), so each variable kept ~36 kB for good: 250 kB per ConvNetJS model built,
    500 kB per snapshot loaded (`python -m tools.bench_builds`). One fixed name under the root name scope gives the
    same cache key for the same shape and type; Keras's own names and paths (what saving and optimizers use) stay.
    `keras.backend.clear_session` would empty the cache too, but for every thread at once, under other sessions.
    """
    global _installed
    with _kernel_cache_lock:
        if _installed is None:
            _installed = _install()
        return _installed


def _install() -> bool:
    import keras

    variable = _keras_tf_variable()
    if variable is None:
        return False
    original = variable._initialize
    variable._initialize = _fixed_name(original)
    if _works():
        return True
    variable._initialize = original
    _log.warning("Keras %s makes variables differently: the kernel-cache workaround is inactive.", keras.__version__)
    return False


def _works() -> bool:
    """A variable made now has its own Keras name and the fixed TensorFlow one."""
    import keras

    try:
        probe = keras.Variable(0.0, name="kernel_cache_probe")
        return probe.name == "kernel_cache_probe" and probe.value.name == f"{TF_NAME}:0"
    except Exception:  # noqa: BLE001 - any failure means the hook does not fit this Keras: leave Keras as it was
        return False


def _keras_tf_variable() -> type | None:
    """Keras's TensorFlow-backend Variable class (a Keras internal), or None (warned) without it."""
    import keras

    if keras.backend.backend() != "tensorflow":
        return None  # other backends make no TensorFlow kernels
    try:
        from keras.src.backend.tensorflow.core import Variable
    except ImportError:
        Variable = None  # noqa: N806 - the class, as Keras names it
    if Variable is None or not callable(getattr(Variable, "_initialize", None)):
        _log.warning(
            "Keras %s has no keras.src.backend.tensorflow.core.Variable._initialize: every model built keeps "
            "~36 kB per variable in TensorFlow's kernel cache (the kernel-cache workaround is inactive).",
            keras.__version__,
        )
        return None
    return Variable


def _fixed_name(initialize):
    import tensorflow as tf

    @functools.wraps(initialize)
    def wrapper(self, value):
        # Keras passes `self.name` (its `_name`) to tf.Variable: lent a fixed one while the variable is made.
        name, self._name = self._name, TF_NAME
        try:
            with tf.name_scope(""):  # an empty name resets the scope to the root, eagerly and in a graph
                return initialize(self, value)
        finally:
            self._name = name

    return wrapper


def profile_planes(log_dir: str):
    """The newest trace `tf.profiler.experimental` wrote under `log_dir`, as TensorFlow's XSpace message."""
    from pathlib import Path

    from tensorflow.tsl.profiler.protobuf import xplane_pb2

    traces = sorted(Path(log_dir).rglob("*.xplane.pb"), key=lambda path: path.stat().st_mtime)
    if not traces:
        raise FileNotFoundError(f"no profiler trace under {log_dir}")
    space = xplane_pb2.XSpace()
    space.ParseFromString(traces[-1].read_bytes())
    return space
