"""The learning-rate anneal: a factor on the set learning rate that falls to zero over the end of a run."""

from __future__ import annotations

import math
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
