"""Bring a database to the run store's newest schema with Alembic, refusing databases that are not a run store."""

from __future__ import annotations

import os
import sqlite3
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Engine, inspect, text

from mnist_core.store.schema import DIGITS_TABLE, METADATA, RUNS_TABLE, VERSION_TABLE

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "head"


class SchemaError(RuntimeError):
    """The database is not one the store may write: corrupt, another application's, or from a newer app."""


@cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def known_revisions() -> list[str]:
    """The schema revisions this app knows, oldest first."""
    return [script.revision for script in reversed(list(_script().walk_revisions()))]


def check_sqlite_file(path: Path) -> None:
    """Refuse a file that is not an SQLite database, not this app's run store, from a newer app, or not writable.

    Opened read-only (through the stdlib, not the store's engine, whose settings would write to the file), and every
    object in it (tables, views, indexes, triggers) is looked at before the engine may open it, so a refused file is
    left exactly as it was.
    """
    if path.is_dir():
        raise SchemaError(f"{path} is a directory, not a database file.")
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        objects, versions = _read_only(path, immutable=False)
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorcode", None) not in _CANNOT_OPEN:
            raise SchemaError(_damaged(path, exc)) from None
        try:  # its folder may be read-only: SQLite then cannot make the files it reads a WAL database with
            objects, versions = _read_only(path, immutable=True)
        except sqlite3.Error as again:
            raise SchemaError(_damaged(path, again)) from None
    if versions is not None:  # first: a newer version's store may hold objects this version does not know
        check_revisions(versions, str(path), ("table", RUNS_TABLE, RUNS_TABLE) in objects)
    check_objects(objects, str(path))
    writable_or_why(path)


_CANNOT_OPEN = {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM, sqlite3.SQLITE_READONLY}
_STORE_TABLES = {VERSION_TABLE, RUNS_TABLE, DIGITS_TABLE}
_INTERNAL = ("sqlite_sequence", "sqlite_stat1", "sqlite_stat2", "sqlite_stat3", "sqlite_stat4")


def _read_only(path: Path, immutable: bool) -> tuple[list[tuple[str, str, str]], list | None]:
    """(type, name, table) of every object in the file, and its version table's rows (None if it has no such table)."""
    flags = "?mode=ro&immutable=1" if immutable else "?mode=ro"
    connection = sqlite3.connect(f"{path.resolve().as_uri()}{flags}", uri=True)
    try:
        objects = [tuple(row) for row in connection.execute("SELECT type, name, tbl_name FROM sqlite_master")]
        if ("table", VERSION_TABLE, VERSION_TABLE) not in objects:
            return objects, None
        columns = {row[1] for row in connection.execute(f"PRAGMA table_info({VERSION_TABLE})")}
        if "version_num" not in columns:
            raise SchemaError(
                f"{path} has a table {VERSION_TABLE} without the column version_num: it is not a run store MNIST "
                "Live made, so it was left as it is. Point MNIST_LIVE_RUNS at another file."
            )
        versions = [row[0] for row in connection.execute(f"SELECT version_num FROM {VERSION_TABLE} LIMIT 10")]
        return objects, versions
    finally:
        connection.close()


def _damaged(path: Path, exc: sqlite3.Error) -> str:
    return (
        f"{path} is not an SQLite database, or it is damaged ({exc}). It was left as it is: move it away, "
        "or point MNIST_LIVE_RUNS at another file."
    )


def writable_or_why(path: Path) -> None:
    """Refuse a store whose file or folder cannot be written: SQLite makes its journal files beside the file."""
    if not os.access(path.parent, os.W_OK):
        raise SchemaError(
            f"The folder {path.parent} of the run store {path.name} is read-only: SQLite must create its journal "
            "files beside the file to read or write it. The file was left as it is: make the folder writable, or "
            "copy the file to a writable folder and point MNIST_LIVE_RUNS at it."
        )
    if not os.access(path, os.W_OK):
        raise SchemaError(
            f"The run store {path} is read-only. It was left as it is: make it writable, or copy it to a writable "
            "folder and point MNIST_LIVE_RUNS at the copy."
        )


def check_objects(objects: list[tuple[str, str, str]], where: str) -> None:
    """Refuse a database whose objects (type, name, table) are not all the run store's."""
    if not objects:
        return
    tables = {name for kind, name, _ in objects if kind == "table" and name not in _INTERNAL}
    if not tables & _STORE_TABLES:
        listed = [f"{kind} {name}" for kind, name, _ in objects]
        shown = f"tables: {_names(sorted(tables))}" if tables else f"objects: {_names(listed)}"
        raise SchemaError(
            f"{where} is an SQLite database of another application ({shown}). MNIST Live does not write into it: "
            "point MNIST_LIVE_RUNS at another file."
        )
    indexes = {index.name for table in METADATA.tables.values() for index in table.indexes}
    foreign = []
    for kind, name, table in objects:
        if kind == "table":
            ours = name in _STORE_TABLES or name in _INTERNAL
        elif kind == "index":
            ours = table in _STORE_TABLES and (name in indexes or name.startswith(f"sqlite_autoindex_{table}_"))
        else:  # the store makes no views or triggers: a trigger would run on every save
            ours = False
        if not ours:
            foreign.append(f"{kind} {name}")
    if foreign:
        raise SchemaError(
            f"{where} holds objects that are not the run store's ({_names(foreign)}). MNIST Live does not write into "
            "it: it was left as it is. Point MNIST_LIVE_RUNS at another file."
        )
    if ("table", VERSION_TABLE, VERSION_TABLE) not in objects:
        raise SchemaError(
            f"{where} has a table {RUNS_TABLE} that MNIST Live did not create (no {VERSION_TABLE}). It was "
            "left as it is."
        )


def check_revisions(versions: list, where: str, has_runs: bool) -> None:
    """Refuse a version table that does not hold exactly one revision this app knows (or none, with no runs table)."""
    known = known_revisions()
    unknown = [v for v in versions if v not in known]
    if unknown:
        shown = _names([repr(v) if isinstance(v, str) else f"{type(v).__name__} {v!r}" for v in unknown])
        raise SchemaError(
            f"The run store at {where} has schema revision {shown}, which this version of MNIST Live does not know "
            f"(it knows {', '.join(known)}): it was written by a newer version, or edited. It was left as it is."
        )
    if len(versions) > 1:
        raise SchemaError(
            f"The run store at {where} records {len(versions)} schema revisions ({_names(versions)}); a store has "
            f"one. It was edited or damaged, so it was left as it is."
        )
    if not versions and has_runs:
        raise SchemaError(
            f"The run store at {where} records no schema revision, though it has a table {RUNS_TABLE}: it was "
            "edited or damaged, so it was left as it is."
        )


def _names(names: list) -> str:
    """The first few of `names`, each cut short, for a message."""
    cut = [str(n)[:40] + ("…" if len(str(n)) > 40 else "") for n in names[:5]]
    return ", ".join(cut) + (", …" if len(names) > 5 else "")


def upgrade(engine: Engine, where: str) -> str:
    """Create or migrate the store's table to the newest revision; return the revision the database had before."""
    with engine.begin() as connection:
        tables = set(inspect(connection).get_table_names())
        before = ""
        if VERSION_TABLE in tables:
            columns = {column["name"] for column in inspect(connection).get_columns(VERSION_TABLE)}
            if "version_num" not in columns:
                raise SchemaError(
                    f"{where} has a table {VERSION_TABLE} without the column version_num: MNIST Live did not make "
                    "it. It was left as it is."
                )
            versions = list(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE} LIMIT 10")).scalars())
            check_revisions(versions, where, RUNS_TABLE in tables)
            before = versions[0] if versions else ""
        elif RUNS_TABLE in tables:
            raise SchemaError(
                f"{where} has a table {RUNS_TABLE} that MNIST Live did not create (no {VERSION_TABLE}). It was "
                "left as it is."
            )
        if before != known_revisions()[-1]:
            config = _config()
            config.attributes["connection"] = connection
            try:
                command.upgrade(config, HEAD)
            except CommandError as exc:  # what the checks above let through still reaches the page as a message
                message = f"The run store at {where} cannot be migrated: {exc}. It was left as it is."
                raise SchemaError(message) from None
    return before
