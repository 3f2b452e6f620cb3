"""How large a zip file's central directory says it is, read before zipfile parses that directory."""

from __future__ import annotations

import zipfile
from typing import BinaryIO


def declared_directory(file: BinaryIO) -> tuple[int, int] | None:
    """(entries, bytes) of the zip's central directory as its end record declares them, zip64 included.

    None when the file has no end record (zipfile itself then refuses it) or when this Python's zipfile no longer
    has its private end-record reader: the numbers are zipfile's own, so they are the ones it goes on to trust.
    """
    read_end = getattr(zipfile, "_EndRecData", None)
    end = read_end(file) if read_end is not None else None
    return (end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]) if end else None
