"""Looking inside a network: activations, saliency, filters, and its answers on the test set with their pictures.

NumPy and Pillow around a model's direct calls; `inference` answers predictions outside a training thread. May
import `compat`, `data`, `model` and `settings`.
"""
