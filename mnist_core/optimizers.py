"""Keras optimizers from OptimizerSettings, with learning rate and momentum changeable between batches."""

from __future__ import annotations

import keras
from keras import ops

from mnist_core.settings import OptimizerSettings


@keras.saving.register_keras_serializable(package="mnist_live")
class LiveMomentumSGD(keras.optimizers.SGD):
    """SGD whose momentum is a variable, so a running job can change it without retracing.

    Keras's SGD reads momentum as a Python float at trace time; this one reads a variable.
    """

    def __init__(self, *args, live_momentum: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.live_momentum = live_momentum or self.momentum != 0

    def build(self, variables):
        if self.built:
            return
        super(keras.optimizers.SGD, self).build(variables)  # skip SGD.build: it decides slots by momentum != 0
        self.momentums = self.add_optimizer_variables(variables, "momentum") if self.live_momentum else []
        self.momentum_variable = self.add_variable(
            (), initializer=keras.initializers.Constant(self.momentum), name="live_momentum"
        )

    def get_config(self):
        return {**super().get_config(), "live_momentum": self.live_momentum}

    def update_step(self, gradient, variable, learning_rate):
        if not self.momentums:
            return super().update_step(gradient, variable, learning_rate)
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        momentum = ops.cast(self.momentum_variable, variable.dtype)
        m = self.momentums[self._get_variable_index(variable)]
        self.assign(m, ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate)))
        if self.nesterov:
            step = ops.subtract(ops.multiply(m, momentum), ops.multiply(gradient, learning_rate))
            self.assign_add(variable, step)
        else:
            self.assign_add(variable, m)


def build_optimizer(settings: OptimizerSettings) -> keras.optimizers.Optimizer:
    """A fresh Keras optimizer for the (already validated) settings."""
    p = settings.params
    lr = p["learning_rate"]
    name = settings.name
    if name == "adadelta":
        return keras.optimizers.Adadelta(learning_rate=lr, rho=p["rho"], epsilon=p["epsilon"])
    if name in ("sgd", "momentum", "nesterov"):
        return LiveMomentumSGD(
            learning_rate=lr, momentum=p.get("momentum", 0.0), nesterov=name == "nesterov", live_momentum=name != "sgd"
        )
    if name == "adagrad":
        return keras.optimizers.Adagrad(learning_rate=lr, epsilon=p["epsilon"])
    if name == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr, rho=p["rho"], epsilon=p["epsilon"])
    if name == "adam":
        return keras.optimizers.Adam(learning_rate=lr, beta_1=p["beta_1"], beta_2=p["beta_2"], epsilon=p["epsilon"])
    raise ValueError(f"unknown optimizer {name!r}")


def set_live_params(optimizer: keras.optimizers.Optimizer, params: dict[str, float]) -> None:
    """Apply learning rate and momentum (where the optimizer has a live one) before the next batch."""
    if "learning_rate" in params:
        optimizer.learning_rate.assign(params["learning_rate"])
    if "momentum" in params and isinstance(optimizer, LiveMomentumSGD):
        optimizer.momentum = params["momentum"]  # read by build() if the first batch has not run yet
        if optimizer.built:
            optimizer.momentum_variable.assign(params["momentum"])
