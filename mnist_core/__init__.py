"""MNIST Live engine: data, model, optimizers, training jobs and prediction. Never imports streamlit."""

import os

from mnist_core.slots import get_slots
from mnist_core.threads import configure_tensorflow_threads

# This TensorFlow build leaves oneDNN off by default; with it the 1-channel 5x5 conv trains ~7x faster on CPU.
# It must be set before TensorFlow is first imported, so it lives in the package's import.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# With oneDNN on, TensorFlow allocates tensors of 256 kB and more from a pool that grows to the largest set of
# tensors alive at once and never shrinks (its BFC allocator): the first training job left ~100 MB in it for the
# life of the process. Through malloc instead they go back once freed (mnist_core.memory), at the same speed.
os.environ.setdefault("TF_ONEDNN_USE_SYSTEM_ALLOCATOR", "1")
# TensorFlow's thread pools, sized for the CPUs and the number of jobs that may train at once (read at start too).
configure_tensorflow_threads(get_slots().limit)
