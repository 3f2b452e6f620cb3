"""Memory budgets computed from the layer list before anything runs: one training step, and one built model.

Calibrated against peak RSS measured in fresh processes (`python -m tools.step_memory`, TensorFlow 2.21 on CPU;
tracemalloc does not see TensorFlow's allocations): a training step holds every layer's output for each image of
the batch, and a second copy of the output of each layer with an activation (its input, kept for the backward
pass), 4 bytes a value, plus its weights' copies and a fixed part. For the presets, a network near the
250,000-values-per-image limit and a deeper one, at batch sizes 128 to 4096, the estimate was 0-24% above the
measured first step (the network near the limit at 4096: 7,631 MB measured, 7,631 MB estimated).
"""

from __future__ import annotations

import math

from mnist_core.model.architecture import LayerSpec, summarize

STEP_MEMORY_BUDGET_BYTES = 1 << 30  # 1 GB for one training step: several sessions share a server of 1-3 GB
_MB = 2**20
_FLOAT = 4
# Weights, their gradients, two optimizer slots and the weight average, as float32.
_PARAMETER_COPIES = 5
# The first step also traces the step function and fills the input pipeline (measured 41-49 MB at batch 128).
_STEP_FIXED_BYTES = 48 * _MB
# A compiled model that has taken a step (its step traced), kept between steps: measured 11.3-56.0 MB per model for
# 4-10 layers and 6k-1.3M weights (tools.step_memory --models). Each weight has 7 float copies: itself, two
# optimizer slots, the weight average, and the fresh optimizer state kept for resets (mnist_core.training.model_pool).
_MODEL_FIXED_BYTES = 6 * _MB
_MODEL_BYTES_PER_LAYER = 1_700_000  # each layer's traced ops and Keras objects
_MODEL_BYTES_PER_PARAMETER = 7 * _FLOAT


def values_per_image(layers: list[LayerSpec]) -> int:
    """Values one image holds during a training step: every layer's output, twice for layers with an activation."""
    rows = summarize(layers)
    outputs = sum(math.prod(r.output_shape) for r in rows)
    activated = sum(
        math.prod(r.output_shape)
        for r, spec in zip(rows[1:], layers)
        if spec["type"] in ("conv", "dense") and spec["activation"] != "linear"
    )
    return outputs + activated


def step_memory_bytes(layers: list[LayerSpec], batch_size: int) -> int:
    """Estimated peak bytes of one training step of a valid layer list at `batch_size` (ArchitectureError if not)."""
    parameters = sum(r.parameters for r in summarize(layers))
    activations = batch_size * values_per_image(layers) * _FLOAT
    return activations + parameters * _FLOAT * _PARAMETER_COPIES + _STEP_FIXED_BYTES


def model_memory_bytes(layers: list[LayerSpec]) -> int:
    """Estimated resident bytes of one built, compiled and traced model of a valid layer list, between steps."""
    parameters = sum(r.parameters for r in summarize(layers))
    return _MODEL_FIXED_BYTES + _MODEL_BYTES_PER_LAYER * len(layers) + _MODEL_BYTES_PER_PARAMETER * parameters


def largest_batch(layers: list[LayerSpec], budget: int = STEP_MEMORY_BUDGET_BYTES) -> int:
    """The largest batch size whose step fits `budget` (0 if none does)."""
    fixed = step_memory_bytes(layers, 0)
    return max(0, (budget - fixed) // (values_per_image(layers) * _FLOAT))


def check_step_memory(layers: list[LayerSpec], batch_size: int, network: str = "this network") -> str | None:
    """A message naming batch size and network when one training step would exceed the budget, else None."""
    need = step_memory_bytes(layers, batch_size)
    if need <= STEP_MEMORY_BUDGET_BYTES:
        return None
    largest = largest_batch(layers)
    advice = f"use a batch size of at most {largest:,}" if largest else "this network does not fit at any batch size"
    return (
        f"Batch size {batch_size:,} is too large for {network}: one training step would need about "
        f"{need / _MB:,.0f} MB of memory ({sum(math.prod(r.output_shape) for r in summarize(layers)):,} values per "
        f"image), and the limit on this server is {STEP_MEMORY_BUDGET_BYTES / _MB:,.0f} MB per step. "
        f"{advice[0].upper()}{advice[1:]}, or a network with fewer values per image."
    )
