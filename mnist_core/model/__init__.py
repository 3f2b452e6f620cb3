"""The network: architectures as data and their layer table, the crop layer, optimizers, memory budgets, prediction.

Keras lives here. Modules may import `mnist_core.data` (image sizes) and `mnist_core.settings`; never training,
runtime or the pages.
"""
