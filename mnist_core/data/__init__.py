"""Data in, before any model: MNIST loading and download, uploaded image decoding, drawing preprocessing.

Everything here is NumPy, Pillow and SciPy; nothing imports TensorFlow, so pages can use it before TensorFlow has
loaded. Modules here import only each other (and the standard library and those packages).
"""
