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


def test_inside_the_block_fit_leaves_the_average_to_the_caller():
    """average_written_by_caller: fit's own end no longer writes the weight average; the caller's call does."""
    import keras

    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1, kernel_initializer="ones")])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1, use_ema=True, ema_momentum=0.5), loss="mse")
    x, y = np.ones((8, 1)), np.zeros((8, 1))
    with keras_workarounds.average_written_by_caller(model) as write_average:
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        raw = [w.numpy().copy() for w in model.trainable_weights]
        average = [a.numpy().copy() for a in model.optimizer._model_variables_moving_average]
        assert not all(np.allclose(r, a) for r, a in zip(raw, average))  # the average is not written yet
        write_average()
    assert all(np.allclose(w.numpy(), a) for w, a in zip(model.trainable_weights, average))
    assert "finalize_variable_values" not in vars(model.optimizer)  # the optimizer's own method again
