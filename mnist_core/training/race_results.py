"""What a race gave: each contestant's final numbers and a short reading of the race, from its evaluation points."""

from __future__ import annotations

from dataclasses import dataclass

from mnist_core.training.contestants import Contestant
from mnist_core.training.engine import DIVERGED_LOSS
from mnist_core.training.status import Status

TEST_SUBSET = 2_000  # test accuracy uses the first 2,000 test images (k crops each) to keep evaluation cheap
TARGETS = (0.97, 0.98)


@dataclass(frozen=True)
class RacePoint:
    """One contestant at one evaluation point."""

    examples_seen: int
    train_seconds: float
    loss: float | None  # cross-entropy over the last LOSS_WINDOW batches, without the L2 term
    validation_accuracy: float  # full validation set, centre crop
    test_accuracy: float  # first TEST_SUBSET test images, k crops
    status: Status


@dataclass(frozen=True)
class RaceView:
    """A race as its page sees it: its own state and every contestant's status and evaluation points."""

    status: Status
    message: str
    budget_examples: int
    elapsed_seconds: float
    statuses: dict[str, Status]
    points: dict[str, tuple[RacePoint, ...]]
    queue_position: int = 0  # n > 0: n-th in line for a training slot (status QUEUED); 0: holding one


@dataclass(frozen=True)
class TrainedContestant:
    """What a contestant of a race has trained: its examples and its last published weights (None before any)."""

    contestant: Contestant
    examples: int
    weights: list | None


@dataclass(frozen=True)
class ContestantResult:
    name: str
    optimizer: str
    learning_rate: float
    batch_size: int
    final_loss: float | None
    validation_accuracy: float | None
    test_accuracy: float | None
    examples_to_97: int | None
    examples_to_98: int | None
    train_seconds: float
    status: Status
    diverged_at: int | None  # examples seen when the loss blew up


def results_of(contestants: list[Contestant], view: RaceView) -> list[ContestantResult]:
    """Each contestant's final numbers, from the evaluation points and statuses of its race's view."""
    return [result_of(c, view.points[c.name], view.statuses[c.name]) for c in contestants]


def result_of(contestant: Contestant, points: tuple[RacePoint, ...], status: Status) -> ContestantResult:
    last = points[-1] if points else None
    diverged = status == Status.DIVERGED
    return ContestantResult(
        name=contestant.name,
        optimizer=contestant.optimizer.label,
        learning_rate=contestant.learning_rate,
        batch_size=contestant.batch_size,
        final_loss=last.loss if last else None,
        validation_accuracy=last.validation_accuracy if last else None,
        test_accuracy=last.test_accuracy if last else None,
        examples_to_97=_examples_to(points, TARGETS[0]),
        examples_to_98=_examples_to(points, TARGETS[1]),
        train_seconds=last.train_seconds if last else 0.0,
        status=status,
        diverged_at=last.examples_seen if diverged and last else None,
    )


def _examples_to(points: tuple[RacePoint, ...], target: float) -> int | None:
    """Examples seen at the first evaluation point with validation accuracy >= target."""
    return next((p.examples_seen for p in points if p.validation_accuracy >= target), None)


def summary_text(results: list[ContestantResult]) -> str:
    """A short reading of the race, generated from the numbers."""
    if not results:
        return "No contestants."
    sentences = [_first_to(results, target) for target in reversed(TARGETS)]
    sentences = [s for s in sentences if s][:1] or [
        f"No contestant reached {TARGETS[0]:.0%} validation accuracy within the budget."
    ]
    scored = [r for r in results if r.test_accuracy is not None and r.status != Status.DIVERGED]
    if scored:
        best = max(scored, key=lambda r: r.test_accuracy)
        worst = min(scored, key=lambda r: r.test_accuracy)
        sentences.append(
            f"Best final test accuracy: {best.name}, {best.test_accuracy:.2%} (first {TEST_SUBSET:,} test images)."
        )
        if worst is not best:
            sentences.append(f"Lowest: {worst.name}, {worst.test_accuracy:.2%}.")
        quickest = min(scored, key=lambda r: r.train_seconds)
        sentences.append(f"Least training time: {quickest.name}, {quickest.train_seconds:.1f} s.")
    for r in results:
        if r.status == Status.DIVERGED:
            sentences.append(
                f"{r.name} diverged after {r.diverged_at:,} examples at learning rate {r.learning_rate:g}: "
                f"its loss left the finite range or passed {DIVERGED_LOSS:.1f}."
            )
    stopped = [r.name for r in results if r.status == Status.STOPPED]
    if stopped:
        sentences.append(f"Stopped before the end of the budget: {', '.join(stopped)}.")
    return " ".join(sentences)


def _first_to(results: list[ContestantResult], target: float) -> str | None:
    key = "examples_to_98" if target == TARGETS[1] else "examples_to_97"
    reached = sorted((getattr(r, key), r.name) for r in results if getattr(r, key) is not None)
    if not reached:
        return None
    examples, name = reached[0]
    others = len(reached) - 1
    tail = f"; {others} other{'s' if others != 1 else ''} got there too" if others else "; no other did"
    return f"{name} reached {target:.0%} validation accuracy first, after {examples:,} examples{tail}."
