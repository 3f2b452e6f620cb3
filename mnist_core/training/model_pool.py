"""A job's compiled model: built new, or kept from an ended job and reset, which skips tracing.

A new model traces its training loop the first time it trains: ~1.5 s of Python holding the interpreter lock,
while every page the server sends waits (tools.bench_load). When a job ends its model goes back to a pool; the
next job with the same layers, the same optimizer settings fixed at trace time and the same averaging takes it
and resets it to exactly what a newly built one would be: the seeded initial weights and random-crop state of a
freshly built (not compiled, not traced) model, and the optimizer's variables as they were before its first step.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from mnist_core.model.architecture import LayerSpec, build_model, decayed_kernels
from mnist_core.model.optimizers import build_optimizer, set_live_params
from mnist_core.runtime.threads import training_parts
from mnist_core.settings import Applies, TrainSettings, applying
from mnist_core.training.replicas import SplitBatchModel


class L2Decay:
    """ConvNetJS's L2 decay: the loss gains coefficient * sum(w^2), coefficient = decay / (2 * batch size)."""

    def __init__(self, coefficient: keras.Variable):
        self.coefficient = coefficient

    def __call__(self, weights):
        return self.coefficient * keras.ops.sum(keras.ops.square(weights))


@dataclass
class TrainingModel:
    """A compiled model, its L2 decay coefficient (set per epoch) and its optimizer's state before any step."""

    model: keras.Model
    decay: keras.Variable
    key: str
    fresh_optimizer: list[np.ndarray]
    traced_batches: int = 0  # batches trained since it was built, up to 2 (the first traces or first runs the step)


def pool_key(layers: list[LayerSpec], settings: TrainSettings) -> str:
    """What a traced train step depends on: the layers, the optimizer's fixed settings and the averaging."""
    params, name = settings.optimizer.params, settings.optimizer.name
    fixed = {k: v for k, v in params.items() if k not in applying(Applies.NEXT_BATCH)}
    # Plain SGD keeps momentum slots only when built with a momentum (mnist_core.model.optimizers.LiveMomentumSGD).
    slots = name != "sgd" or params.get("momentum", 0.0) != 0
    return json.dumps([layers, name, fixed, slots, settings.averaging], sort_keys=True, default=str)


def new_training_model(
    layers: list[LayerSpec], settings: TrainSettings, initial_weights: Sequence[np.ndarray] | None = None
) -> TrainingModel:
    """The model for a job: seeded weights (or `initial_weights`), compiled with its optimizer and L2 decay."""
    built = build_model(layers, settings.seed)
    model = SplitBatchModel(inputs=built.inputs, outputs=built.outputs, name=built.name, parts=training_parts())
    if initial_weights is not None:
        model.set_weights(initial_weights)  # raises on weights of another network
    optimizer = build_optimizer(settings.optimizer, settings.averaging)
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    optimizer.build(model.trainable_variables)  # now, not at the first step: its fresh state is kept for resets
    decay = keras.Variable(0.0, trainable=False, name="l2_coefficient")
    for kernel in decayed_kernels(model):
        kernel.regularizer = L2Decay(decay)
    fresh = [np.array(v.numpy()) for v in optimizer.variables]
    return TrainingModel(model, decay, pool_key(layers, settings), fresh)


def reset(
    held: TrainingModel,
    layers: list[LayerSpec],
    settings: TrainSettings,
    initial_weights: Sequence[np.ndarray] | None = None,
) -> None:
    """Make a kept model what new_training_model would build for these arguments, its traced step aside."""
    fresh = build_model(layers, settings.seed)
    targets, sources = held.model.variables, fresh.variables
    if [tuple(v.shape) for v in targets] != [tuple(v.shape) for v in sources]:
        raise ValueError("the kept model is not this network")
    for target, source in zip(targets, sources):  # weights and the random crop's generator state
        target.assign(source.value)
    if initial_weights is not None:
        held.model.set_weights(initial_weights)  # raises on weights of another network
    reset_optimizer(held, settings)


def reset_optimizer(held: TrainingModel, settings: TrainSettings) -> None:
    """Give a model's optimizer and L2 coefficient what new_training_model would for these settings."""
    optimizer = held.model.optimizer
    for variable, value in zip(optimizer.variables, held.fresh_optimizer, strict=True):
        variable.assign(value)
    params = settings.optimizer.params  # with build_optimizer's defaults: a new model's starting values
    set_live_params(optimizer, {"learning_rate": params["learning_rate"], "momentum": params.get("momentum", 0.0)})
    held.decay.assign(0.0)


@dataclass
class HeldState:
    """What training changes in a compiled model, saved so that several runs can take turns on one traced step."""

    values: list[np.ndarray]
    traced_batches: int


def _state_variables(held: TrainingModel) -> list[keras.Variable]:
    # Weights, the random crop's generator state, every optimizer variable (step count, learning rate, momentum
    # and average slots) and the L2 coefficient; the engine resets the metrics at each stretch of training.
    return [*held.model.variables, *held.model.optimizer.variables, held.decay]


def save_state(held: TrainingModel) -> HeldState:
    return HeldState([np.array(v.numpy()) for v in _state_variables(held)], held.traced_batches)


def load_state(held: TrainingModel, state: HeldState) -> None:
    for variable, value in zip(_state_variables(held), state.values, strict=True):
        variable.assign(value)
    held.traced_batches = state.traced_batches


class ModelPool:
    """Compiled models of ended jobs, at most `capacity`, the oldest dropped first; shared by threads."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._lock = threading.Lock()
        self._idle: deque[TrainingModel] = deque()

    def take(self, layers: list[LayerSpec], settings: TrainSettings) -> TrainingModel | None:
        """A kept model for this network and optimizer, no longer in the pool; None if there is none."""
        key = pool_key(layers, settings)
        with self._lock:
            for held in reversed(self._idle):
                if held.key == key:
                    self._idle.remove(held)
                    return held
        return None

    def give_back(self, held: TrainingModel) -> None:
        with self._lock:
            self._idle.append(held)
            while len(self._idle) > self.capacity:
                self._idle.popleft()

    def __len__(self) -> int:
        with self._lock:
            return len(self._idle)


def training_model(
    layers: list[LayerSpec],
    settings: TrainSettings,
    initial_weights: Sequence[np.ndarray] | None = None,
    pool: ModelPool | None = None,
) -> TrainingModel:
    """A model from `pool` reset for these arguments if it holds one that fits, else a new one."""
    held = pool.take(layers, settings) if pool is not None else None
    if held is None:
        return new_training_model(layers, settings, initial_weights)
    try:
        reset(held, layers, settings, initial_weights)
    except Exception:
        pool.give_back(held)  # unharmed for the next job: a reset starts by overwriting everything
        raise
    return held


_pool: ModelPool | None = None
_pool_lock = threading.Lock()


def get_pool() -> ModelPool:
    """The process's pool: one idle model more than the jobs that may train at once."""
    global _pool
    from mnist_core.runtime.queue import get_queue

    with _pool_lock:
        if _pool is None:
            _pool = ModelPool(get_queue().limit + 1)
        return _pool
