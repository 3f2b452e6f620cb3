"""Saved digits in the run store: save (one row per drawing), list, delete, share to the class set, count.

A DigitStore works on its RunStore's database (the same engine, writer lock and failure reporting). Bad input
(a label outside 0-9, a blank or misshapen image) raises DigitError; a database that cannot be used raises
StoreError with a message for the page. Every row read back is checked: one whose pixels are not 784 bytes, or
whose other values are not what the store writes, is skipped with a logged warning and counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, delete, func, insert, select, update

from mnist_core.data.own_digits import LABELS, SOURCES, checked_label, checked_pixels, checked_source, pixels_of
from mnist_core.store.queries import trim_table
from mnist_core.store.rows import MAX_ID, StoreError, raw, run_id, shown_value, stored_date
from mnist_core.store.schema import NICKNAME_CHARS, digits
from mnist_core.store.text import clean_text

LOG = logging.getLogger(__name__)
MAX_LISTED = 100_000
_COLUMNS = list(digits.columns)


@dataclass(frozen=True, eq=False)
class SavedDigit:
    """A stored digit, every value checked; `pixels` is (28, 28) uint8."""

    id: int
    owner: str
    created_at: datetime
    label: int
    source: str
    shared: bool
    nickname: str | None
    pixels: np.ndarray


class DigitListing(list):
    """Digits read from the store, with how many rows were skipped because a value in them is not valid."""

    unreadable: int = 0

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, x (n, 28, 28) uint8, y (n,) uint8) in MNIST's layout."""
        ids = np.array([d.id for d in self], np.int64)
        x = np.stack([d.pixels for d in self]) if self else np.zeros((0, 28, 28), np.uint8)
        return ids, x, np.array([d.label for d in self], np.uint8)


@dataclass(frozen=True)
class ClassCounts:
    """The class set's size: digits per label (all ten) and per nickname (most first)."""

    by_label: dict[int, int]
    by_nickname: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.by_label.values())


class DigitStore:
    """The saved digits of the run store `runs` (mnist_core.store.store.RunStore)."""

    def __init__(self, runs: Any):
        self._runs = runs

    @property
    def problem(self) -> str | None:
        return self._runs.problem

    def _read(self, action):
        return self._runs._use(action)

    def _write(self, action):
        with self._runs._write:
            return self._runs._use(action, write=True)

    # --- writing ---
    def save(self, owner: str, pixels: Any, label: Any, source: str = "drawn") -> int:
        """Save a digit as the network saw it; its id. The same drawing saved again is relabelled, not repeated.

        DigitError for a label outside 0-9, a blank or misshapen image or an unknown source (nothing saved);
        StoreError when the database cannot take it now.
        """
        image, label, source = checked_pixels(pixels), checked_label(label), checked_source(source)
        data = image.tobytes()
        limits = self._runs.limits

        def run(connection: Connection) -> int:
            last = connection.execute(
                select(digits.c.id, raw([digits.c.pixels])[0])
                .where(digits.c.owner == owner)
                .order_by(digits.c.id.desc())
                .limit(1)
            ).first()
            if last is not None and _same_bytes(last.pixels, data):
                connection.execute(update(digits).where(digits.c.id == last.id).values(label=label, source=source))
                return int(last.id)
            values = {"owner": owner, "created_at": datetime.now(UTC), "label": label, "pixels": data}
            found = connection.execute(insert(digits).values(source=source, **values)).inserted_primary_key[0]
            trim_table(connection, digits, owner, limits.digits_per_browser, limits.digits_total)
            return int(found)

        return self._write(run)

    def relabel(self, digit_id: Any, owner: str, label: Any) -> bool:
        return self._change(digit_id, owner, {"label": checked_label(label)})

    def delete(self, digit_id: Any, owner: str) -> bool:
        """Delete one of `owner`'s digits; False when it is not theirs, gone, or not an id."""
        return self._change(digit_id, owner, None)

    def delete_all(self, owner: str) -> int:
        """Delete all of `owner`'s digits (shared ones too); how many."""
        return self._write(lambda c: c.execute(delete(digits).where(digits.c.owner == owner)).rowcount)

    def share(self, digit_id: Any, owner: str, nickname: Any) -> bool:
        """Put one of `owner`'s digits in the class set under `nickname` (cleaned and bounded; not empty)."""
        return self._change(digit_id, owner, _shared(nickname))

    def share_all(self, owner: str, nickname: Any) -> int:
        """Put all of `owner`'s digits in the class set under `nickname`; how many were not in it yet."""
        values = _shared(nickname)
        where = (digits.c.owner == owner, digits.c.shared.is_(False))
        return self._write(lambda c: c.execute(update(digits).where(*where).values(values)).rowcount)

    def unshare(self, digit_id: Any, owner: str) -> bool:
        return self._change(digit_id, owner, {"shared": False, "nickname": None, "shared_at": None})

    def _change(self, given: Any, owner: str, values: dict[str, Any] | None) -> bool:
        found = run_id(given)
        if found is None:
            return False
        where = (digits.c.id == found, digits.c.owner == owner)
        statement = delete(digits).where(*where) if values is None else update(digits).where(*where).values(values)
        return self._write(lambda c: c.execute(statement).rowcount > 0)

    # --- reading ---
    def digits(self, owner: str, label: Any = None, limit: int = MAX_LISTED) -> DigitListing:
        """`owner`'s digits (all, or those labelled `label`), newest first."""
        query = _listing_query(limit).where(digits.c.owner == owner)
        if label is not None:
            query = query.where(digits.c.label == checked_label(label))
        return self._read(lambda c: _listing(c.execute(query)))

    def class_set(self, label: Any = None, limit: int = MAX_LISTED) -> DigitListing:
        """Everyone's shared digits (all, or those labelled `label`), newest first."""
        query = _listing_query(limit).where(digits.c.shared.is_(True))
        if label is not None:
            query = query.where(digits.c.label == checked_label(label))
        return self._read(lambda c: _listing(c.execute(query)))

    def class_counts(self) -> ClassCounts:
        """The class set's digits per label and per nickname, counted in the database (rows as stored)."""
        shared = digits.c.shared.is_(True)

        def read(connection: Connection) -> ClassCounts:
            labels = connection.execute(select(digits.c.label, func.count()).where(shared).group_by(digits.c.label))
            names = connection.execute(
                select(digits.c.nickname, func.count()).where(shared).group_by(digits.c.nickname)
            )
            by_label = dict.fromkeys(LABELS, 0)
            for label, count in labels:
                if label in by_label:
                    by_label[label] = int(count)
            by_name = {name: int(n) for name, n in names if isinstance(name, str)}
            return ClassCounts(by_label, dict(sorted(by_name.items(), key=lambda item: (-item[1], item[0]))))

        return self._read(read)

    def count(self, owner: str | None = None) -> int:
        """How many digits are stored (`owner`'s, or everyone's), counted in the database."""
        query = select(func.count()).select_from(digits)
        if owner is not None:
            query = query.where(digits.c.owner == owner)
        return self._read(lambda c: int(c.execute(query).scalar_one()))


def _shared(nickname: Any) -> dict[str, Any]:
    cleaned = clean_text(nickname, NICKNAME_CHARS)
    if not cleaned:
        raise StoreError("A nickname is needed to share digits: the class set counts them by it.")
    return {"shared": True, "nickname": cleaned, "shared_at": datetime.now(UTC)}


def _same_bytes(stored: Any, data: bytes) -> bool:
    return isinstance(stored, (bytes, bytearray, memoryview)) and bytes(stored) == data


def _listing_query(limit: int):
    limit = max(1, min(int(limit), MAX_LISTED))
    return select(*raw(_COLUMNS)).order_by(digits.c.created_at.desc(), digits.c.id.desc()).limit(limit)


def _listing(rows: Any) -> DigitListing:
    found = DigitListing()
    for row in rows:
        try:
            found.append(_digit(row._mapping))
        except ValueError as exc:
            LOG.warning("A stored digit is skipped: %s", exc)
            found.unreadable += 1
    return found


def _digit(values: Any) -> SavedDigit:
    """The row as a SavedDigit; ValueError naming the first value that is not what the store writes."""
    found = run_id(values["id"])
    name = f"digit {found}" if found is not None else "a digit"
    if found is None:
        raise ValueError(f"{name}: its id {shown_value(values['id'])} is not an integer from 1 to {MAX_ID}.")
    pixels = pixels_of(values["pixels"])
    if pixels is None:
        size = len(values["pixels"]) if isinstance(values["pixels"], (bytes, bytearray, memoryview)) else None
        what = f"{size:,} bytes" if size is not None else shown_value(values["pixels"])
        raise ValueError(f"{name}: its pixels are {what}, not 784 bytes.")
    label = values["label"]
    if isinstance(label, bool) or not isinstance(label, int) or label not in LABELS:
        raise ValueError(f"{name}: its label is {shown_value(label)}, not 0 to 9.")
    if values["source"] not in SOURCES:
        raise ValueError(f"{name}: its source is {shown_value(values['source'])}, not one of {', '.join(SOURCES)}.")
    if not isinstance(values["owner"], str):
        raise ValueError(f"{name}: its owner is {shown_value(values['owner'])}, not text.")
    nickname = values["nickname"]
    if nickname is not None and not isinstance(nickname, str):
        raise ValueError(f"{name}: its nickname is {shown_value(nickname)}, not text.")
    shared = values["shared"]
    if isinstance(shared, int) and not isinstance(shared, bool) and shared in (0, 1):  # SQLite keeps 0 and 1
        shared = bool(shared)
    if not isinstance(shared, bool):
        raise ValueError(f"{name}: shared is {shown_value(shared)}, not true or false.")
    return SavedDigit(
        found, values["owner"], _date(values["created_at"], name), label, values["source"], shared, nickname, pixels
    )


def _date(value: Any, name: str) -> datetime:
    when = stored_date(value)
    if when is None:
        raise ValueError(f"{name}: created_at is {shown_value(value)}, not a date from 2000 to 2261.")
    return when
