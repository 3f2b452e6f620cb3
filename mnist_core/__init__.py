"""MNIST Live's logic, never importing streamlit: one subpackage per job.

`data` (MNIST, uploaded images, drawing preprocessing), `model` (architectures, crop layer, optimizers, memory
budgets, prediction), `training` (the one engine, runs and their state, the job, the race, the model pool),
`runtime` (the job queue, threads, memory, warm-up, Keras workarounds), `inspection` (activations, saliency,
evaluation), `charts` (Altair specs) and `snapshots` (the saved file, the pretrained network). `settings` is the
vocabulary all of them share. Importing the package sets TensorFlow's environment before TensorFlow loads.
"""

from mnist_core.runtime.keras_workarounds import set_tensorflow_environment
from mnist_core.runtime.queue import get_queue
from mnist_core.runtime.threads import configure_tensorflow_threads

set_tensorflow_environment()
# TensorFlow's thread pools, sized for the CPUs and the number of jobs that may train at once (read at start too).
configure_tensorflow_threads(get_queue().limit)
