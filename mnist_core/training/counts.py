"""A run's counts: where a continued run's counters start, and each batch's values from Keras's running means."""

from __future__ import annotations

from dataclasses import dataclass

from mnist_core.training.run_state import RunView


@dataclass(frozen=True)
class StartPoint:
    """Where a continued run's counters start: the totals of the run it continues (all 0 for a fresh one)."""

    epoch: int = 0
    examples_seen: int = 0
    train_seconds: float = 0.0

    @classmethod
    def of(cls, past: RunView | None) -> StartPoint:
        return cls() if past is None else cls(past.epoch, past.examples_seen, past.train_seconds)

    def totals(self, epochs: int, examples_per_epoch: int) -> dict[str, int]:
        """The run's `epochs` and `total_examples` once this job has trained `epochs` more epochs."""
        return {"epochs": self.epoch + epochs, "total_examples": self.examples_seen + epochs * examples_per_epoch}


class PerBatch:
    """Each batch's values, recovered from the running means over a stretch of training (weighted by examples)."""

    def __init__(self, width: int):
        self._width = width
        self.reset()

    def reset(self) -> None:
        self._means, self._seen = (0.0,) * self._width, 0

    def __call__(self, means: tuple[float, ...], size: int) -> tuple[float, ...]:
        total = self._seen + size
        values = tuple((mean * total - before * self._seen) / size for mean, before in zip(means, self._means))
        self._means, self._seen = tuple(means), total
        return values
