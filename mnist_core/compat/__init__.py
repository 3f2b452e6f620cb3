"""Workarounds of libraries' internals, one module per library, each with the versions it was verified on.

The bottom layer with `settings`: it imports nothing else of `mnist_core`, so every layer may use it.
"""
