"""Keras optimizers from OptimizerSettings, with learning rate and momentum changeable between batches."""

from __future__ import annotations

import keras

from mnist_core.compat.keras_workarounds import fused_adadelta, live_momentum_sgd, warm_average, without_replica_sum
from mnist_core.settings import OptimizerSettings

# SGD whose momentum is a variable, so a running job can change it without retracing (Keras's internals: compat).
LiveMomentumSGD = live_momentum_sgd()


def build_optimizer(settings: OptimizerSettings, averaging: float = 0.0) -> keras.optimizers.Optimizer:
    """A fresh Keras optimizer for the (already validated) settings, averaging weights when averaging > 0."""
    return warm_average(without_replica_sum(_keras_optimizer(settings, averaging)))


def _keras_optimizer(settings: OptimizerSettings, averaging: float) -> keras.optimizers.Optimizer:
    p = settings.params
    name = settings.name
    # ema_overwrite_frequency=None: the job writes the average back after each epoch.
    common = {"learning_rate": p["learning_rate"], "use_ema": averaging > 0, "ema_momentum": averaging or 0.99}
    if name == "adadelta":
        return fused_adadelta()(rho=p["rho"], epsilon=p["epsilon"], **common)
    if name in ("sgd", "momentum", "nesterov"):
        momentum = p.get("momentum", 0.0)
        return LiveMomentumSGD(momentum=momentum, nesterov=name == "nesterov", live_momentum=name != "sgd", **common)
    if name == "adagrad":
        return keras.optimizers.Adagrad(epsilon=p["epsilon"], **common)
    if name == "rmsprop":
        return keras.optimizers.RMSprop(rho=p["rho"], epsilon=p["epsilon"], **common)
    if name == "adam":
        return keras.optimizers.Adam(beta_1=p["beta_1"], beta_2=p["beta_2"], epsilon=p["epsilon"], **common)
    raise ValueError(f"unknown optimizer {name!r}")


def set_live_params(optimizer: keras.optimizers.Optimizer, params: dict[str, float]) -> None:
    """Apply learning rate and momentum (where the optimizer has a live one) before the next batch."""
    if "learning_rate" in params:
        optimizer.learning_rate.assign(params["learning_rate"])
    if "momentum" in params and isinstance(optimizer, LiveMomentumSGD):
        optimizer.momentum = params["momentum"]  # read by build() if the first batch has not run yet
        if optimizer.built:
            optimizer.momentum_variable.assign(params["momentum"])
