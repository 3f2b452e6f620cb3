"""RunStore: save, list, share and delete runs; a database that fails never stops training or a page.

Saving never raises: a run that cannot be written waits in memory (a bounded number of them) and goes in with the
next save that can, and `problem` says why nothing is being saved meanwhile. Reads raise StoreError with a
message for the page. Writes from one process take one lock (SQLite takes one writer at a time anyway), so
sessions saving at once queue here instead of meeting "database is locked".
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, create_engine, delete, event, func, insert, select, update
from sqlalchemy.engine import URL
from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from mnist_core.model.architecture import PRESETS, ArchitectureError, LayerSpec, validate_layers
from mnist_core.settings import RUN_FIELDS, SettingsError, TrainSettings, validate_settings
from mnist_core.store.config import Limits, shown_url
from mnist_core.store.curves import parse
from mnist_core.store.migrate import SchemaError, check_sqlite_file, upgrade
from mnist_core.store.record import RunRecord
from mnist_core.store.schema import NAME_CHARS, NICKNAME_CHARS, SUMMARY_COLUMNS, runs
from mnist_core.store.text import clean_text
from mnist_core.store.weights import WeightsError, unpack

MAX_PENDING = 100  # runs held in memory while the database cannot be written
MAX_LISTED = 5_000
BOARD_SIZE = 200
RETRY_SECONDS = 5.0  # a store that failed to open is tried again at most this often
SQLITE_BUSY_SECONDS = 30.0
POSTGRES_CONNECT_SECONDS = 5
T = TypeVar("T")


class StoreError(RuntimeError):
    """The store cannot do what was asked; the message says why, for the page."""


@dataclass(frozen=True)
class RunSummary:
    """A run as the tables show it (no curves, layers or weights)."""

    id: int
    owner: str
    created_at: datetime
    kind: str
    name: str
    status: str
    optimizer: str
    network: str
    settings: dict[str, Any]
    test_accuracy: float | None
    validation_accuracy: float | None
    final_loss: float | None
    examples_seen: int
    epochs: int
    train_seconds: float
    wall_seconds: float
    examples_per_second: float | None
    weight_count: int
    has_weights: bool
    weights_note: str | None
    shared: bool
    nickname: str | None
    shared_at: datetime | None

    def train_settings(self, layers: list[LayerSpec] | None = None) -> TrainSettings:
        """The run's settings, checked as the sidebar checks them; StoreError when they were edited into nonsense."""
        raw = self.settings if isinstance(self.settings, dict) else {}
        optimizer = raw.get("optimizer") if isinstance(raw.get("optimizer"), dict) else {}
        params = optimizer.get("params") if isinstance(optimizer.get("params"), dict) else {}
        values = {"optimizer": optimizer.get("name"), **params, "preset": raw.get("preset")}
        values.update({name: raw[name] for name in RUN_FIELDS if name in raw})
        choices = {**PRESETS, "custom": layers or []}
        try:
            return validate_settings(values, choices)
        except SettingsError as exc:
            raise StoreError(f"Run {self.id}'s stored settings are not valid: {exc}") from None


@dataclass(frozen=True)
class StoredRun:
    """A run with everything: its layers, curves and packed weights."""

    summary: RunSummary
    layers_json: str
    curves_json: str
    weights_data: bytes | None

    @property
    def curves(self) -> dict[str, Any]:
        return parse(self.curves_json)

    def layers(self) -> list[LayerSpec]:
        """The run's layers, checked as the layer editor checks them; StoreError if they are not a network."""
        try:
            layers = json.loads(self.layers_json)
            validate_layers(layers)
        except (ValueError, TypeError, RecursionError, ArchitectureError) as exc:
            message = f"Run {self.summary.id}'s stored layers are not a network this app builds: {exc}"
            raise StoreError(message) from None
        return layers

    def weights(self) -> list:
        """The run's weights, refused with StoreError when missing or when they do not fit its layers."""
        if self.weights_data is None:
            note = self.summary.weights_note or "none were saved"
            raise StoreError(f"Run {self.summary.id} has no weights to load ({note}).")
        layers = self.layers()
        try:
            return unpack(self.weights_data, layers, self.summary.train_settings(layers).seed)
        except WeightsError as exc:
            raise StoreError(f"Run {self.summary.id}'s weights do not fit its layers: {exc} Not loaded.") from None


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
                self._engine = self._open()
            except Exception as exc:  # noqa: BLE001 - a driver meeting a URL it cannot use may raise anything
                self._failed(exc)
                raise StoreError(self._problem) from None
            if not self._pending:  # opened again: nothing failed since (what waits is tried by the caller)
                self._problem, self._failed_at = None, None
            return self._engine

    def _open(self) -> Engine:
        if self.url.get_backend_name() == "sqlite" and self.url.database in (None, "", ":memory:"):
            # One connection for every thread: each connection to ":memory:" would be a database of its own.
            engine = create_engine(self.url, poolclass=StaticPool, connect_args={"check_same_thread": False})
        elif self.url.get_backend_name() == "sqlite":
            path = Path(self.url.database)
            check_sqlite_file(path)
            path.parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(self.url, connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False})
            event.listen(engine, "connect", _sqlite_pragmas)
        elif self.url.get_backend_name() == "postgresql":
            engine = create_engine(
                self.url, pool_pre_ping=True, connect_args={"connect_timeout": POSTGRES_CONNECT_SECONDS}
            )
        else:
            engine = create_engine(self.url, pool_pre_ping=True)
        try:
            upgrade(engine, self.location)
        except BaseException:
            engine.dispose()
            raise
        return engine

    def _failed(self, exc: BaseException) -> None:
        """Remember why (under self._lock); drop the engine so the next attempt opens the database afresh."""
        self._problem = _describe(exc, self.location)
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
                    self._trim(connection, row["owner"])
                with self._lock:
                    self._pending.popleft()
        except SQLAlchemyError as exc:
            with self._lock:
                self._failed(exc)
            return None
        with self._lock:
            self._problem, self._failed_at = None, None
        return last

    def _trim(self, connection: Connection, owner: str) -> None:
        """Delete the oldest runs beyond the limits, unshared ones first: the owner's, then everyone's."""
        for where, limit in ((runs.c.owner == owner, self.limits.per_browser), (None, self.limits.total)):
            count = select(func.count()).select_from(runs)
            victims = select(runs.c.id).order_by(runs.c.shared, runs.c.created_at, runs.c.id)
            if where is not None:
                count, victims = count.where(where), victims.where(where)
            over = connection.execute(count).scalar_one() - limit
            if over > 0:
                connection.execute(delete(runs).where(runs.c.id.in_(victims.limit(over).scalar_subquery())))

    def _change(self, statement) -> bool:
        def run(connection: Connection) -> bool:
            return connection.execute(statement).rowcount > 0

        with self._write:
            return self._use(run, write=True)

    def delete(self, run_id: int, owner: str) -> bool:
        """Delete one of `owner`'s runs; False when it is not theirs (or gone)."""
        return self._change(delete(runs).where(runs.c.id == run_id, runs.c.owner == owner))

    def share(self, run_id: int, owner: str, nickname: str) -> bool:
        """Put one of `owner`'s runs on the class board under `nickname` (cleaned and bounded; not empty)."""
        nickname = clean_text(nickname, NICKNAME_CHARS)
        if not nickname:
            raise StoreError("A nickname is needed to share a run: the board shows it beside the run.")
        values = {"shared": True, "nickname": nickname, "shared_at": datetime.now(UTC)}
        return self._change(update(runs).where(runs.c.id == run_id, runs.c.owner == owner).values(**values))

    def unshare(self, run_id: int, owner: str) -> bool:
        values = {"shared": False, "nickname": None, "shared_at": None}
        return self._change(update(runs).where(runs.c.id == run_id, runs.c.owner == owner).values(**values))

    def rename(self, run_id: int, owner: str, name: str) -> bool:
        name = clean_text(name, NAME_CHARS)
        if not name:
            raise StoreError("A run's name cannot be empty.")
        return self._change(update(runs).where(runs.c.id == run_id, runs.c.owner == owner).values(name=name))

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

    def runs(self, owner: str, limit: int = MAX_LISTED) -> list[RunSummary]:
        """`owner`'s runs, newest first."""
        query = _summary_query().where(runs.c.owner == owner).order_by(runs.c.created_at.desc(), runs.c.id.desc())
        return self._use(lambda c: [_summary(row) for row in c.execute(query.limit(limit))])

    def board(self, limit: int = BOARD_SIZE) -> list[RunSummary]:
        """Everyone's shared runs, best test accuracy first."""
        query = _summary_query().where(runs.c.shared.is_(True))
        query = query.order_by(runs.c.test_accuracy.desc().nulls_last(), runs.c.shared_at, runs.c.id).limit(limit)
        return self._use(lambda c: [_summary(row) for row in c.execute(query)])

    def get(self, run_id: int) -> StoredRun | None:
        query = select(*SUMMARY_COLUMNS, runs.c.weights.is_not(None).label("has_weights"), runs.c.layers)
        query = query.add_columns(runs.c.curves, runs.c.weights).where(runs.c.id == run_id)

        def read(connection: Connection) -> StoredRun | None:
            row = connection.execute(query).first()
            if row is None:
                return None
            return StoredRun(_summary(row), row.layers, row.curves, row.weights)

        return self._use(read)

    def curves(self, run_ids: list[int]) -> dict[int, dict[str, Any]]:
        """The curves of the runs `run_ids` (those that exist)."""
        query = select(runs.c.id, runs.c.curves).where(runs.c.id.in_(run_ids))
        return self._use(lambda c: {row.id: parse(row.curves) for row in c.execute(query)})

    def count(self, owner: str | None = None) -> int:
        query = select(func.count()).select_from(runs)
        if owner is not None:
            query = query.where(runs.c.owner == owner)
        return self._use(lambda c: c.execute(query).scalar_one())


def _summary_query():
    return select(*SUMMARY_COLUMNS, runs.c.weights.is_not(None).label("has_weights"))


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)  # SQLite keeps no zone


def _summary(row: Any) -> RunSummary:
    try:
        settings = json.loads(row.settings)
    except (TypeError, ValueError, RecursionError):
        settings = {}
    return RunSummary(
        id=row.id,
        owner=row.owner,
        created_at=_utc(row.created_at),
        kind=row.kind,
        name=row.name,
        status=row.status,
        optimizer=row.optimizer,
        network=row.network,
        settings=settings if isinstance(settings, dict) else {},
        test_accuracy=row.test_accuracy,
        validation_accuracy=row.validation_accuracy,
        final_loss=row.final_loss,
        examples_seen=row.examples_seen,
        epochs=row.epochs,
        train_seconds=row.train_seconds,
        wall_seconds=row.wall_seconds,
        examples_per_second=row.examples_per_second,
        weight_count=row.weight_count,
        has_weights=bool(row.has_weights),
        weights_note=row.weights_note,
        shared=bool(row.shared),
        nickname=row.nickname,
        shared_at=_utc(row.shared_at),
    )


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets pages read while a run is written; a writer waits for another instead of failing at once."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    cursor.close()


def _describe(exc: BaseException, where: str) -> str:
    """A one-paragraph reason for the page: the schema check's own message, else the database's first line."""
    if isinstance(exc, SchemaError):
        return str(exc)
    detail = getattr(exc, "orig", None) or exc
    first = (str(detail).strip().splitlines() or [type(detail).__name__])[0][:300]
    first = first.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate would break the page
    if isinstance(exc, (ImportError, NoSuchModuleError)):
        return f"The run store at {where} needs a driver that is not installed here: {first}."
    return f"The run store at {where} cannot be used: {first}."
