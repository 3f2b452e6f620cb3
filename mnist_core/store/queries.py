"""The run store's statements: what each listing reads, what a change writes, and what the limits delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Select, Table, delete, func, select, update

from mnist_core.store.config import Limits
from mnist_core.store.rows import Listing, raw, summary
from mnist_core.store.schema import SUMMARY_COLUMNS, runs


def summaries() -> Select:
    """Every run's summary columns, read as stored (rows.summary checks them)."""
    return select(*raw([*SUMMARY_COLUMNS, runs.c.weights.is_not(None).label("has_weights")]))


def owners_runs(owner: str, limit: int) -> Select:
    """`owner`'s runs, newest first."""
    return summaries().where(runs.c.owner == owner).order_by(runs.c.created_at.desc(), runs.c.id.desc()).limit(limit)


def board(limit: int) -> Select:
    """Everyone's shared runs, best test accuracy first."""
    query = summaries().where(runs.c.shared.is_(True))
    return query.order_by(runs.c.test_accuracy.desc().nulls_last(), runs.c.shared_at, runs.c.id).limit(limit)


def one_run(run_id: int) -> Select:
    """The run with everything: summary, layers, curves and weights."""
    return summaries().add_columns(*raw([runs.c.layers, runs.c.curves, runs.c.weights])).where(runs.c.id == run_id)


def curves(run_ids: list[int]) -> Select:
    return select(*raw([runs.c.id, runs.c.curves])).where(runs.c.id.in_(sorted(run_ids)))


def counted(owner: str | None) -> Select:
    """The summaries to count (`owner`'s, or everyone's)."""
    return summaries() if owner is None else summaries().where(runs.c.owner == owner)


def listing(rows: Any) -> Listing:
    """The rows that are valid runs, with how many were not."""
    found = Listing()
    for row in rows:
        run = summary(row)
        if run is None:
            found.unreadable += 1
        else:
            found.append(run)
    return found


def change(run_id: int, owner: str, values: dict[str, Any] | None):
    """Update (or, without values, delete) one of `owner`'s runs."""
    where = (runs.c.id == run_id, runs.c.owner == owner)
    return delete(runs).where(*where) if values is None else update(runs).where(*where).values(values)


def trim(connection: Connection, owner: str, limits: Limits) -> None:
    """Delete the oldest runs beyond the limits, unshared ones first: the owner's, then everyone's."""
    trim_table(connection, runs, owner, limits.per_browser, limits.total)


def trim_table(connection: Connection, table: Table, owner: str, per_owner: int, total: int) -> None:
    """Delete the oldest rows of `table` beyond the limits, unshared ones first: the owner's, then everyone's."""
    for where, limit in ((table.c.owner == owner, per_owner), (None, total)):
        count = select(func.count()).select_from(table)
        victims = select(table.c.id).order_by(table.c.shared, table.c.created_at, table.c.id)
        if where is not None:
            count, victims = count.where(where), victims.where(where)
        over = connection.execute(count).scalar_one() - limit
        if over > 0:
            connection.execute(delete(table).where(table.c.id.in_(victims.limit(over).scalar_subquery())))
