"""The Keras and TensorFlow internals the app relies on are still there (mnist_core.compat.keras_workarounds)."""

import numpy as np

from mnist_core.compat import keras_workarounds


def test_the_check_names_a_missing_internal(monkeypatch):
    monkeypatch.setitem(keras_workarounds.INTERNALS, "gone", ("keras.optimizers", "Optimizer.no_such_thing"))
    monkeypatch.setitem(keras_workarounds.PROBES, "broken", lambda: False)
    missing = keras_workarounds.missing_internals()
    assert "gone: keras.optimizers.Optimizer.no_such_thing" in missing and "broken: <lambda>" in missing


def test_the_replica_sum_is_skipped_and_seed_states_are_found():
    from mnist_core.model.architecture import PRESETS, build_model
    from mnist_core.model.optimizers import build_optimizer
    from mnist_core.settings import OptimizerSettings

    optimizer = build_optimizer(OptimizerSettings())
    pairs = [(np.ones(2), "v")]
    assert optimizer._all_reduce_sum_gradients(pairs) == pairs
    states = keras_workarounds.seed_states(build_model(PRESETS["convnetjs"], seed=3))
    assert len(states) == 1 and states[0].shape == (2,)
