"""The network: architectures as data and their layer table, the crop layer, optimizers, memory budgets, prediction.

Keras lives here. Modules may import `compat`, `data` and `settings`; never runtime, inspection, training or above.
"""
