"""What a batch trains with: the learning rate and momentum as set, and the anneal over the end of a run."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Anneal:
    """Over the last `fraction` of a run's planned examples the learning rate falls to 0 along a half cosine."""

    fraction: float = 0.0  # 0 is off: the learning rate stays as set

    def factor(self, done: int, planned: int) -> float:
        """What the set learning rate is multiplied by after `done` of `planned` examples."""
        if self.fraction <= 0 or planned <= 0:
            return 1.0
        start = planned * (1.0 - self.fraction)
        if done <= start:
            return 1.0
        progress = min(1.0, (done - start) / (planned - start))
        return 0.5 * (1.0 + math.cos(math.pi * progress))


class LiveParams:
    """The learning rate and momentum a batch trains with, computed in this one place.

    From the optimizer's settings as set (live changes included, `change`) and the anneal's factor at the run's
    progress. Only the training thread uses it; the page's changes reach it through the run's state.
    """

    def __init__(self, params: Mapping[str, float], names: tuple[str, ...], anneal: Anneal | None = None):
        self.set = {name: float(params[name]) for name in names if name in params}
        self.anneal = anneal or Anneal()

    def change(self, changes: Mapping[str, float]) -> None:
        self.set.update({name: float(value) for name, value in changes.items() if name in self.set})

    @property
    def learning_rate(self) -> float:
        """The learning rate as set, before the anneal's factor."""
        return self.set["learning_rate"]

    def for_batch(self, done: int, planned: int) -> dict[str, float]:
        """The values for the batch after `done` of `planned` examples: the set ones, the rate annealed."""
        return {**self.set, "learning_rate": self.learning_rate * self.anneal.factor(done, planned)}
