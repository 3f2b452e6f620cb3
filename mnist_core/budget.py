"""Memory budget of one training step, computed from the layer list before anything runs."""

from __future__ import annotations

import math

from mnist_core.architecture import LayerSpec, summarize

STEP_MEMORY_BUDGET_BYTES = 1 << 30  # 1 GiB for one training step: several jobs share a small server
_FLOAT = 4
_PER_VALUE = 4  # forward output, its gradient, and the kernels' scratch copies: calibrated below
_PER_PARAMETER = 4  # weights, gradients and two optimizer slots


def step_memory_bytes(layers: list[LayerSpec], batch_size: int) -> int:
    """Estimated peak bytes of one training step of a valid layer list at `batch_size`."""
    rows = summarize(layers)
    values = sum(math.prod(r.output_shape) for r in rows)
    parameters = sum(r.parameters for r in rows)
    return batch_size * values * _FLOAT * _PER_VALUE + parameters * _FLOAT * _PER_PARAMETER


def model_memory_bytes(layers: list[LayerSpec]) -> int:
    """Estimated resident bytes of one built and compiled model of a valid layer list."""
    parameters = sum(r.parameters for r in summarize(layers))
    return 10 * 2**20 + parameters * _FLOAT * _PER_PARAMETER


def check_step_memory(layers: list[LayerSpec], batch_size: int) -> str | None:
    """A message naming batch size and network when one step would exceed the budget, else None."""
    need = step_memory_bytes(layers, batch_size)
    if need <= STEP_MEMORY_BUDGET_BYTES:
        return None
    return (
        f"Batch size {batch_size:,} with this network needs about {need / 2**20:,.0f} MB for one training step; "
        f"the limit on this server is {STEP_MEMORY_BUDGET_BYTES / 2**20:,.0f} MB. Use a smaller batch size or a "
        "network with fewer values per image."
    )
