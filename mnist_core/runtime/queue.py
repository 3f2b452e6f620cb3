"""A process-wide limit on training work running at once: jobs beyond it wait their turn in a FIFO queue.

Every session's training job and optimizer race runs in the same server process on the same few cores. Run
side by side, N jobs each train about N times slower (and the page of every session stutters); queued, each
job trains at full speed and the ones behind it know their place in the line.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections import deque
from collections.abc import Callable, Mapping

from mnist_core.runtime.threads import cpu_count, shown_env, whole_number

ENV_VAR = "MNIST_LIVE_MAX_JOBS"
# Jobs at once share the CPUs: far more of them than CPUs only makes each slower and holds more memory.
MAX_JOBS_PER_CPU = 4


def default_limit(cpus: int | None = None) -> int:
    """One job per two CPUs, at least one."""
    # A job alone keeps two CPUs busy (its batch's parts run side by side, mnist_core.training.replicas), and
    # each ended run evaluates beside the next one's training: two jobs at once on two CPUs get a class's runs
    # done no sooner and each run later (docs/performance.md, tools.bench_class).
    return max(1, (cpus if cpus is not None else cpu_count()) // 2)


def limit_from_env(environ: Mapping[str, str] | None = None, cpus: int | None = None) -> tuple[int, str]:
    """The limit set by MNIST_LIVE_MAX_JOBS, else the default; and a note when a set value was not usable.

    A value above MAX_JOBS_PER_CPU jobs per CPU is capped there.
    """
    environ = os.environ if environ is None else environ
    cpus = cpus if cpus is not None else cpu_count()
    fallback = default_limit(cpus)
    raw = environ.get(ENV_VAR)
    if raw is None or not raw.strip():
        return fallback, ""
    value, setting = whole_number(raw), shown_env(ENV_VAR, raw)
    if value is None or value < 1:
        return fallback, f"{setting} is not a whole number of at least 1; using the default, {fallback}."
    cap = MAX_JOBS_PER_CPU * cpus
    if value > cap:
        allowed = f"at most {MAX_JOBS_PER_CPU} per CPU, {cpus} CPUs"
        return cap, f"{setting} is more jobs than this server allows ({allowed}); using {cap}."
    return value, ""


class Ticket:
    """One job's place in line; compared by identity."""

    _ids = itertools.count(1)

    def __init__(self, owner: str):
        self.owner = owner
        self.id = next(Ticket._ids)

    def __repr__(self) -> str:
        return f"Ticket({self.id}, {self.owner!r})"


class JobQueue:
    """At most `limit` tickets hold a slot; the rest wait in FIFO order and are handed a slot as one frees."""

    def __init__(self, limit: int, limit_note: str = ""):
        if limit < 1:
            raise ValueError(f"the limit must be at least 1, not {limit}")
        self._limit = limit
        self.limit_note = limit_note  # why the configured value was not used, if it was not
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._running: set[Ticket] = set()
        self._queue: deque[Ticket] = deque()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, cpus: int | None = None) -> JobQueue:
        """Slots for the limit in MNIST_LIVE_MAX_JOBS; an unusable value is logged and kept in `limit_note`."""
        limit, note = limit_from_env(environ, cpus)
        if note:
            logging.getLogger(__name__).warning(note)
        return cls(limit, note)

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def running_count(self) -> int:
        with self._lock:
            return len(self._running)

    @property
    def queued_count(self) -> int:
        with self._lock:
            return len(self._queue)

    def enqueue(self, owner: str) -> Ticket:
        """A new ticket at the end of the line; it holds a slot at once if one is free and nobody is ahead."""
        ticket = Ticket(owner)
        with self._lock:
            self._queue.append(ticket)
            self._grant()
        return ticket

    def position(self, ticket: Ticket) -> int | None:
        """0 while the ticket holds a slot, n while it is n-th in line, None once released or withdrawn."""
        with self._lock:
            return self._position(ticket)

    def wait(
        self,
        ticket: Ticket,
        should_abandon: Callable[[], bool],
        poll: float = 0.2,
        *,
        on_position: Callable[[int], None] | None = None,
    ) -> bool:
        """Block until `ticket` holds a slot (True), or until it is withdrawn or `should_abandon()` (False).

        `on_position` hears every change of place in line, ending with 0 when the slot is granted. Both callbacks
        run outside this object's lock, so they may take other locks.
        """
        reported = None
        while True:
            with self._lock:
                position = self._position(ticket)
                if position == reported and position:
                    self._changed.wait(poll)
                    position = self._position(ticket)
            if position is None:
                return False
            if position != reported and on_position is not None:
                on_position(position)
            reported = position
            if position == 0:
                return True
            if should_abandon():
                # A slot granted meanwhile is given back too: the caller will not run.
                self.release(ticket)
                return False

    def withdraw(self, ticket: Ticket) -> bool:
        """Take a waiting ticket out of the line (True); a ticket holding a slot keeps it (False)."""
        with self._lock:
            if ticket not in self._queue:
                return False
            self._queue.remove(ticket)
            self._changed.notify_all()  # everyone behind moves up, and the ticket's own wait returns
            return True

    def release(self, ticket: Ticket) -> None:
        """Give back the ticket's slot, or its place in line; releasing twice does nothing."""
        with self._lock:
            if ticket in self._running:
                self._running.discard(ticket)
                self._grant()
            elif ticket in self._queue:
                self._queue.remove(ticket)
            else:
                return
            self._changed.notify_all()

    def _position(self, ticket: Ticket) -> int | None:
        if ticket in self._running:
            return 0
        try:
            return self._queue.index(ticket) + 1
        except ValueError:
            return None

    def _grant(self) -> None:
        # Slots pass straight to the head of the line, so a newcomer can never overtake a waiting job.
        while self._queue and len(self._running) < self._limit:
            self._running.add(self._queue.popleft())


SLOTS = JobQueue.from_env()


def get_queue() -> JobQueue:
    """The slots shared by every job in this process."""
    return SLOTS
