"""Every place the app reaches into Python's zipfile internals, checked against the running Python.

`VERIFIED` is the range of Python versions the workaround was verified on; `INTERNALS` names what it relies on and
`PROBES` checks its behaviour; tests/test_library_workarounds.py fails naming what an upgrade changed.
"""

from __future__ import annotations

import io
import zipfile
from typing import BinaryIO

VERIFIED = {"python": ("3.11", "3.14")}
INTERNALS: dict[str, tuple[str, str]] = {
    "declared_directory": ("zipfile", "_EndRecData"),
    "declared_directory_entries": ("zipfile", "_ECD_ENTRIES_TOTAL"),
    "declared_directory_size": ("zipfile", "_ECD_SIZE"),
}


def declared_directory(file: BinaryIO) -> tuple[int, int] | None:
    """(entries, bytes) of the zip's central directory as its end record declares them, zip64 included.

    None when the file has no end record (zipfile itself then refuses it) or when this Python's zipfile no longer
    has its private end-record reader: the numbers are zipfile's own, so they are the ones it goes on to trust.
    """
    read_end = getattr(zipfile, "_EndRecData", None)
    end = read_end(file) if read_end is not None else None
    return (end[zipfile._ECD_ENTRIES_TOTAL], end[zipfile._ECD_SIZE]) if end else None


def _declared_as_zipfile_reads() -> bool:
    """The end record's numbers are the ones zipfile then reads: its member count and directory size."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in ("a", "b", "c"):
            archive.writestr(name, name * 10)
    declared = declared_directory(io.BytesIO(buffer.getvalue()))
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        members = archive.infolist()
        size = sum(46 + len(info.filename.encode()) + len(info.extra) + len(info.comment) for info in members)
        return declared == (len(members), size)


PROBES = {"declared_directory": _declared_as_zipfile_reads}
