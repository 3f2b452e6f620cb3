"""The server process: the job queue, CPU and TensorFlow thread sizing, memory handed back, warm-up, workarounds.

What every run shares in one process. `keras_workarounds` is the one home of code that relies on Keras's or
TensorFlow's internals. May import `data`, `model` and `settings` (the warm-up trains a short run).
"""
