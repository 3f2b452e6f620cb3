"""Bring a database to the run store's newest schema with Alembic, refusing databases that are not a run store."""

from __future__ import annotations

import sqlite3
from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from mnist_core.store.schema import RUNS_TABLE, VERSION_TABLE

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
    """Refuse a file that is not an SQLite database, or one that holds another application's tables.

    Opened read-only (through the stdlib, not the store's engine, whose settings would write to the file), so a
    refused file is left exactly as it was.
    """
    if path.is_dir():
        raise SchemaError(f"{path} is a directory, not a database file.")
    if not path.exists() or path.stat().st_size == 0:
        return
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        raise SchemaError(
            f"{path} is not an SQLite database, or it is damaged ({exc}). It was left as it is: move it away, "
            "or point MNIST_LIVE_RUNS at another file."
        ) from None
    if tables and VERSION_TABLE not in tables:
        shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
        raise SchemaError(
            f"{path} is an SQLite database of another application (tables: {shown}). MNIST Live does not write "
            "into it: point MNIST_LIVE_RUNS at another file."
        )


def upgrade(engine: Engine, where: str) -> str:
    """Create or migrate the store's table to the newest revision; return the revision the database had before."""
    with engine.begin() as connection:
        tables = set(inspect(connection).get_table_names())
        before = ""
        if VERSION_TABLE in tables:
            before = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar() or ""
            if before and before not in known_revisions():
                raise SchemaError(
                    f"The run store at {where} has schema revision {before!r}, which this version of MNIST Live "
                    f"does not know (it knows {', '.join(known_revisions())}): it was written by a newer version. "
                    "It was left as it is."
                )
        elif RUNS_TABLE in tables:
            raise SchemaError(
                f"{where} has a table {RUNS_TABLE} that MNIST Live did not create (no {VERSION_TABLE}). It was "
                "left as it is."
            )
        if before != known_revisions()[-1]:
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, HEAD)
    return before
