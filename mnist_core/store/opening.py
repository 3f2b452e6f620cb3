"""Opening the run store's database: the engine for its URL, the schema brought up to date, and why it failed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import NoSuchModuleError
from sqlalchemy.pool import StaticPool

from mnist_core.store.migrate import SchemaError, check_sqlite_file, upgrade

SQLITE_BUSY_SECONDS = 30.0
POSTGRES_CONNECT_SECONDS = 5


def open_database(url: URL, location: str) -> Engine:
    """An engine for `url`, its schema created or migrated; a file that is not a run store is refused unwritten."""
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        # One connection for every thread: each connection to ":memory:" would be a database of its own.
        engine = create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif url.get_backend_name() == "sqlite":
        path = Path(url.database)
        check_sqlite_file(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    elif url.get_backend_name() == "postgresql":
        engine = create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": POSTGRES_CONNECT_SECONDS})
    else:
        engine = create_engine(url, pool_pre_ping=True)
    try:
        upgrade(engine, location)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    """WAL lets pages read while a run is written; a writer waits for another instead of failing at once."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_SECONDS * 1000)}")
    cursor.close()


def describe_failure(exc: BaseException, where: str) -> str:
    """A one-paragraph reason for the page: the schema check's own message, else the database's first line."""
    if isinstance(exc, SchemaError):
        return str(exc)
    detail = getattr(exc, "orig", None) or exc
    first = (str(detail).strip().splitlines() or [type(detail).__name__])[0][:300]
    first = first.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate would break the page
    if isinstance(exc, (ImportError, NoSuchModuleError)):
        return f"The run store at {where} needs a driver that is not installed here: {first}."
    return f"The run store at {where} cannot be used: {first}."
