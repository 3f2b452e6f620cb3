"""What the fuzzers in tools/ share: Hypothesis settings for a long run."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def long_run(examples: int, seed: int | None) -> settings:
    """Settings for `examples` inputs: no deadline, database or health checks; a fixed order unless seeded."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=seed is None,
    )
