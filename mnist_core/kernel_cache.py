"""Keep TensorFlow's kernel cache from growing with every Keras variable made (~36 kB each, kept for good).

TensorFlow's eager runtime caches a kernel per distinct op and attribute values for the life of the process, and
a variable's VarHandleOp carries its name in an attribute (`debug_name`). Keras names every layer anew
(`conv2d_17`, inside a TensorFlow name scope of that name) and an optimizer's slots after their layer
(`core_conv2d_17_kernel_momentum`), so each variable got a kernel of its own that nothing freed: 250 kB per
ConvNetJS model built, 500 kB per snapshot loaded, 1.1 MB per new model trained (`python -m tools.bench_builds`).
Here TensorFlow gets one fixed name, under the root name scope, for every Keras variable: the same cache key for
the same shape and type. Keras's own names (`variable.name`, `variable.path`: what saving, loading and optimizers
use) are unchanged. `keras.backend.clear_session` would empty the cache too, but for every thread at once: not
while other sessions train.
"""

from __future__ import annotations

import functools
import logging
import threading

import keras
import tensorflow as tf

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_installed: bool | None = None  # decided once per process
TF_NAME = "variable"  # what TensorFlow calls every Keras variable (its debug name, in error messages)


def keep_kernel_cache_bounded() -> bool:
    """Give every Keras variable the same TensorFlow name from now on (once per process); True if in place."""
    global _installed
    with _lock:
        if _installed is None:
            _installed = _install()
        return _installed


def _install() -> bool:
    variable = _keras_tf_variable()
    if variable is None:
        return False
    original = variable._initialize
    variable._initialize = _fixed_name(original)
    if _works():
        return True
    variable._initialize = original
    _log.warning("Keras %s makes variables differently: mnist_core/kernel_cache.py is inactive.", keras.__version__)
    return False


def _works() -> bool:
    """A variable made now has its own Keras name and the fixed TensorFlow one."""
    try:
        probe = keras.Variable(0.0, name="kernel_cache_probe")
        return probe.name == "kernel_cache_probe" and probe.value.name == f"{TF_NAME}:0"
    except Exception:  # noqa: BLE001 - any failure means the hook does not fit this Keras: leave Keras as it was
        return False


def _keras_tf_variable() -> type | None:
    """Keras's TensorFlow-backend Variable class (a Keras internal), or None (warned) without it."""
    if keras.backend.backend() != "tensorflow":
        return None  # other backends make no TensorFlow kernels
    try:
        from keras.src.backend.tensorflow.core import Variable
    except ImportError:
        Variable = None  # noqa: N806 - the class, as Keras names it
    if Variable is None or not callable(getattr(Variable, "_initialize", None)):
        _log.warning(
            "Keras %s has no keras.src.backend.tensorflow.core.Variable._initialize: every model built keeps "
            "~36 kB per variable in TensorFlow's kernel cache (mnist_core/kernel_cache.py is inactive).",
            keras.__version__,
        )
        return None
    return Variable


def _fixed_name(initialize):
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
