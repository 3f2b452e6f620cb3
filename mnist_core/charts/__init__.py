"""Altair chart specs and HTML for the pages: a run's metrics, a race's curves, a test evaluation, the digit stream.

Specs are built once without data and filled per redraw. May import `training.run_state` for the types it draws;
never Keras.
"""
