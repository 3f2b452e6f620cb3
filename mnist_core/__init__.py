"""MNIST Live's logic, never importing streamlit: one subpackage per job, in layers that only import downward.

From the bottom: `compat` (workarounds of libraries' internals) and `settings` (the vocabulary all share); `data`
(MNIST, uploaded images, drawing preprocessing), `lessons` and `runtime` (the job queue, threads, memory, the
server's speed); `model` (architectures, crop layer, optimizers, memory budgets, prediction); `inspection`
(activations, saliency, evaluation, inference copies); `training` (the one engine, runs and their state, the job,
the race, the model pool, warm-up); `store`, `snapshots` and `cluster`; `charts` (Altair specs) on top.
`LAYERS` below is that order, and tests/test_layers.py holds every import to it. Importing the package sets
TensorFlow's environment before TensorFlow loads.
"""

from mnist_core.compat.keras_workarounds import set_tensorflow_environment
from mnist_core.runtime.queue import get_queue
from mnist_core.runtime.threads import configure_tensorflow_threads

# The layer order, bottom first: a subpackage imports only from layers below its own.
LAYERS = (
    ("compat", "settings"),
    ("data", "lessons", "runtime"),
    ("model",),
    ("inspection",),
    ("training",),
    ("store", "snapshots", "cluster"),
    ("charts",),
)

set_tensorflow_environment()
# TensorFlow's thread pools, sized for the CPUs and the number of jobs that may train at once (read at start too).
configure_tensorflow_threads(get_queue().limit)
