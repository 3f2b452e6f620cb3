"""What the default run promises: its examples to the target as the seeds benchmark measured them, in seconds at
this server's measured speed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

RECORD = Path(__file__).with_name("default_run.json")  # written by `python -m tools.bench_seeds --record`


@dataclass(frozen=True)
class MeasuredRun:
    """The seeds benchmark's summary of the default settings."""

    target: float  # test accuracy, a fraction
    seeds: int
    seeds_reached: int
    median_examples: int  # to the target
    worst_examples: int | None  # None unless every seed reached it
    median_final_accuracy: float
    examples_per_epoch: int = 55_000

    @classmethod
    def from_summary(cls, target: float, summary: dict) -> MeasuredRun:
        return cls(
            target=target,
            seeds=summary["seeds"],
            seeds_reached=summary["seeds_reached_target"],
            median_examples=int(summary["median_examples_to_target"]),
            worst_examples=summary["worst_examples_to_target"],
            median_final_accuracy=summary["median_final_accuracy"],
        )


def measured_default_run(path: Path = RECORD) -> MeasuredRun:
    record = json.loads(path.read_text())
    return MeasuredRun.from_summary(record["target"], record["summary"])


def promise(run: MeasuredRun, examples_per_second: float | None) -> str:
    """One sentence for the Train page, in Markdown."""
    seeds = (
        f"every one of {run.seeds} seeds by {run.worst_examples:,}"
        if run.worst_examples is not None and run.seeds_reached == run.seeds
        else f"{run.seeds_reached} of {run.seeds} seeds get there"
    )
    text = (
        f"The default settings pass **{run.target * 100:g}%** test accuracy after about "
        f"**{run.median_examples:,} examples** ({run.median_examples / run.examples_per_epoch:.1f} epochs; {seeds}) "
        f"and end at about {run.median_final_accuracy * 100:.1f}%."
    )
    if not examples_per_second:
        return text + " This server has not measured its training speed yet."
    seconds = run.median_examples / examples_per_second
    return text + (
        f" At this server's measured speed ({examples_per_second:,.0f} examples/s) that is about "
        f"**{_duration(seconds)}** of training."
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    return f"{seconds / 60:.1f} minutes"
