"""RunStore: save, list, share and delete runs; a database that fails never stops training or a page.

Saving never raises: a run that cannot be written waits in memory (a bounded number of them) and goes in with the
next save that can, and `problem` says why nothing is being saved meanwhile. Reads raise StoreError with a
message for the page. Writes from one process take one lock (SQLite takes one writer at a time anyway), so
sessions saving at once queue here instead of meeting "database is locked".
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, insert
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

import mnist_core.store.queries as queries
from mnist_core.store.config import Limits, shown_url
from mnist_core.store.digits import DigitStore
from mnist_core.store.opening import describe_failure, open_database
from mnist_core.store.record import RunRecord
from mnist_core.store.rows import Listing, StoredRun, StoreError, curves_of, stored
from mnist_core.store.rows import run_id as _valid_id
from mnist_core.store.schema import NAME_CHARS, NICKNAME_CHARS, runs
from mnist_core.store.text import clean_text

MAX_PENDING = 100  # runs held in memory while the database cannot be written
MAX_LISTED = 5_000
BOARD_SIZE = 200
RETRY_SECONDS = 5.0  # a store that failed to open is tried again at most this often
T = TypeVar("T")


class RunStore:
    """The run history at `url` (opened, and created or migrated by Alembic, on first use)."""

    def __init__(
        self,
        url: URL | None,
        limits: Limits | None = None,
        retry_seconds: float = RETRY_SECONDS,
        *,
        unusable: str | None = None,
        notes: tuple[str, ...] = (),
    ):
        """`url` None with `unusable` saying why: the settings name no store (runs are then only held in memory).

        `notes` are the settings that were not usable and fell back to their defaults, for the page.
        """
        self.url = url
        self.limits = limits or Limits()
        self.retry_seconds = retry_seconds
        self.location = shown_url(url) if url is not None else "nowhere"
        self.notes = tuple(notes)
        self._unusable = unusable or (None if url is not None else "No run store is configured.")
        self._lock = threading.Lock()  # the engine and the problem
        self._write = threading.Lock()  # one writer at a time
        self._engine: Engine | None = None
        self._problem: str | None = self._unusable
        self._failed_at: float | None = None
        self._pending: deque[dict[str, Any]] = deque()
        self._dropped = 0
        self.digits = DigitStore(self)  # saved digits, in the same database

    # --- state, for the page ---
    @property
    def problem(self) -> str | None:
        """Why runs are not being saved now, or None when the last attempt worked."""
        with self._lock:
            if self._problem is None:
                return None
            waiting = len(self._pending)
            held = f" {waiting} ended run{'s' if waiting != 1 else ''} wait{'s' if waiting == 1 else ''} in memory"
            later = " until the server restarts." if self._unusable else " and will be saved as soon as it can."
            held = held + later if waiting else ""
            lost = f" {self._dropped} could not be kept." if self._dropped else ""
            return self._problem + held + lost

    @property
    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
            self._engine = None

    # --- opening ---
    def _ready(self) -> Engine:
        with self._lock:
            if self._engine is not None:
                return self._engine
            if self._unusable:
                raise StoreError(self._unusable)
            if self._failed_at is not None and time.monotonic() - self._failed_at < self.retry_seconds:
                raise StoreError(self._problem or "the run store is not available")
            try:
                self._engine = open_database(self.url, self.location)
            except Exception as exc:  # noqa: BLE001 - a driver meeting a URL it cannot use may raise anything
                self._failed(exc)
                raise StoreError(self._problem) from None
            if not self._pending:  # opened again: nothing failed since (what waits is tried by the caller)
                self._problem, self._failed_at = None, None
            return self._engine

    def _failed(self, exc: BaseException) -> None:
        """Remember why (under self._lock); drop the engine so the next attempt opens the database afresh."""
        self._problem = describe_failure(exc, self.location)
        self._failed_at = time.monotonic()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # --- writing ---
    def save(self, record: RunRecord) -> int | None:
        """Save `record` (and any run still waiting); its id, or None when the database could not take it now."""
        row = record.row(self.limits)
        with self._write:
            with self._lock:
                if len(self._pending) >= MAX_PENDING:
                    self._pending.popleft()
                    self._dropped += 1
                self._pending.append(row)
            return self._flush()

    def check(self) -> str | None:
        """Open the store if it is closed and save what waits in memory; why runs are not being saved, or None."""
        try:
            self._ready()
        except StoreError:
            return self.problem
        self.flush()
        return self.problem

    def flush(self) -> None:
        """Try again to save the runs waiting in memory (the page calls this; saving also does)."""
        if self.pending:
            with self._write:
                self._flush()

    def _flush(self) -> int | None:
        try:
            engine = self._ready()
        except StoreError:
            return None
        last = None
        try:
            while True:
                with self._lock:
                    if not self._pending:
                        break
                    row = self._pending[0]
                with engine.begin() as connection:
                    last = connection.execute(insert(runs).values(**row)).inserted_primary_key[0]
                    queries.trim(connection, row["owner"], self.limits)
                with self._lock:
                    self._pending.popleft()
        except SQLAlchemyError as exc:
            with self._lock:
                self._failed(exc)
            return None
        with self._lock:
            self._problem, self._failed_at = None, None
        return last

    def _change(self, statement) -> bool:
        def run(connection: Connection) -> bool:
            return connection.execute(statement).rowcount > 0

        with self._write:
            return self._use(run, write=True)

    def _change_run(self, given: Any, owner: str, values: dict[str, Any] | None = None) -> bool:
        """Update (or, without values, delete) one of `owner`'s runs; False when it is not theirs, gone or no id."""
        found = _valid_id(given)
        if found is None:
            return False
        return self._change(queries.change(found, owner, values))

    def delete(self, run_id: int, owner: str) -> bool:
        """Delete one of `owner`'s runs; False when it is not theirs (or gone)."""
        return self._change_run(run_id, owner)

    def share(self, run_id: int, owner: str, nickname: str) -> bool:
        """Put one of `owner`'s runs on the class board under `nickname` (cleaned and bounded; not empty)."""
        nickname = clean_text(nickname, NICKNAME_CHARS)
        if not nickname:
            raise StoreError("A nickname is needed to share a run: the board shows it beside the run.")
        return self._change_run(run_id, owner, {"shared": True, "nickname": nickname, "shared_at": datetime.now(UTC)})

    def unshare(self, run_id: int, owner: str) -> bool:
        return self._change_run(run_id, owner, {"shared": False, "nickname": None, "shared_at": None})

    def rename(self, run_id: int, owner: str, name: str) -> bool:
        name = clean_text(name, NAME_CHARS)
        if not name:
            raise StoreError("A run's name cannot be empty.")
        return self._change_run(run_id, owner, {"name": name})

    # --- reading ---
    def _use(self, action: Callable[[Connection], T], write: bool = False) -> T:
        engine = self._ready()
        try:
            with engine.begin() as connection:
                return action(connection)
        except SQLAlchemyError as exc:
            with self._lock:
                self._failed(exc)
                message = self._problem
            raise StoreError(message) from None

    def runs(self, owner: str, limit: int = MAX_LISTED) -> Listing:
        """`owner`'s runs, newest first; `unreadable` counts the rows skipped because a value in them is not valid."""
        return self._use(lambda c: queries.listing(c.execute(queries.owners_runs(owner, limit))))

    def board(self, limit: int = BOARD_SIZE) -> Listing:
        """Everyone's shared runs, best test accuracy first (`unreadable` as for `runs`)."""
        return self._use(lambda c: queries.listing(c.execute(queries.board(limit))))

    def get(self, run_id: int) -> StoredRun | None:
        """The run `run_id` with everything; None when there is none, the id is not one, or a value is not valid."""
        found = _valid_id(run_id)
        if found is None:
            return None

        def read(connection: Connection) -> StoredRun | None:
            row = connection.execute(queries.one_run(found)).first()
            return None if row is None else stored(row)

        return self._use(read)

    def curves(self, run_ids: list[int]) -> dict[int, dict[str, Any]]:
        """The curves of the runs `run_ids` (those that exist; ids that are not ids are left out)."""
        given = list(run_ids)[:MAX_LISTED] if isinstance(run_ids, (list, tuple, set, frozenset)) else []
        ids = {found for found in map(_valid_id, given) if found is not None}
        if not ids:
            return {}
        query = queries.curves(sorted(ids))
        return self._use(lambda c: dict(found for found in map(curves_of, c.execute(query)) if found is not None))

    def count(self, owner: str | None = None) -> int:
        """How many runs (`owner`'s, or everyone's) can be read: rows with a value that is not valid are left out."""
        return self._use(lambda c: len(queries.listing(c.execute(queries.counted(owner)))))
