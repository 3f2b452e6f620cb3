"""What the fuzzers in tools/ share: Hypothesis settings for a long run, and the bounds every input must keep."""

from __future__ import annotations

import argparse
import time
import traceback
import tracemalloc
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

T = TypeVar("T")


def long_run(examples: int, seed: int | None) -> settings:
    """Settings for `examples` inputs: no deadline, database or health checks; a fixed order unless seeded."""
    return settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        derandomize=seed is None,
    )


def within_bounds(check: Callable[[], T], cpu_seconds: float, peak_mb: float) -> tuple[T | None, dict[str, Any] | None]:
    """(check's result, None) if it returns within the bounds; else (None, what went wrong): any exception it
    raised, or more CPU seconds or traced memory than the bounds allow."""
    tracemalloc.start()
    start = time.process_time()
    try:
        result = check()
    except Exception as exc:  # noqa: BLE001 - every exception is the failure being looked for
        return None, {
            "error": f"{type(exc).__name__}: {str(exc)[:300]}",
            "where": traceback.format_exc(limit=-3)[-800:],
        }
    finally:
        seconds = time.process_time() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    if seconds > cpu_seconds or peak > peak_mb * 2**20:
        return None, {"error": f"cost {seconds:.2f} s of CPU and {peak / 2**20:.1f} MB"}
    return result, None


def fuzz_arguments(about: str, what: str, default: int = 1000) -> argparse.ArgumentParser:
    """The command line every fuzzer starts from: --examples and --seed (a fuzzer adds its own options)."""
    parser = argparse.ArgumentParser(description=about)
    parser.add_argument("--examples", type=int, default=default, help=f"{what} to try (default {default})")
    parser.add_argument("--seed", type=int, default=None, help="random seed (default: Hypothesis's fixed order)")
    return parser
