"""A snapshot's zip members (and those of its `model.keras`): counted, named and sized before they are read."""

from __future__ import annotations

import io
import zipfile
import zlib

from mnist_core.compat.zipfile_workarounds import declared_directory
from mnist_core.snapshots.format import (
    DIRECTORY_BYTES_PER_ENTRY,
    ENTRIES_PER_MEMBER,
    EXPANSION_FLOOR,
    MAX_EXPANSION,
    SnapshotError,
    mb,
    quote_value,
)


def read_members(data: bytes, label: str, limits: dict[str, int], read: tuple[str, ...], what: str) -> dict[str, bytes]:
    """Check every member's name and declared sizes, then read the members named in `read` (capped)."""
    try:
        _check_directory(data, label, limits)
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            _check_infos(infos, label, limits)
            return {i.filename: _read(archive, i, limits[i.filename], label) for i in infos if i.filename in read}
    except SnapshotError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError, OSError):
        raise SnapshotError(f"{label} is not {what}: it is not a zip file, or it is damaged or cut short.") from None


def _check_directory(data: bytes, label: str, limits: dict[str, int]) -> None:
    """From the zip's end record alone: no more entries, and no larger central directory, than `limits` allow."""
    declared = declared_directory(io.BytesIO(data))
    if declared is None:
        return  # not a zip: zipfile says so when it opens the file
    entries, size = declared
    most = ENTRIES_PER_MEMBER * len(limits)
    if entries > most:
        raise SnapshotError(f"{label} lists {entries:,} files; it may hold only {', '.join(limits)}.")
    if size > most * DIRECTORY_BYTES_PER_ENTRY:
        raise SnapshotError(
            f"{label}'s list of files (its zip central directory) takes {size:,} bytes; one of {', '.join(limits)} "
            f"takes at most {most * DIRECTORY_BYTES_PER_ENTRY:,}."
        )


def _check_infos(infos: list[zipfile.ZipInfo], label: str, limits: dict[str, int]) -> None:
    names = [i.filename for i in infos]
    for name in names:
        if _unsafe(name):
            raise SnapshotError(f"{label} holds a file with an unsafe path, {quote_value(name)}; refused.")
    for name in names:
        if name not in limits:
            raise SnapshotError(
                f"{label} holds an unexpected file {quote_value(name)}; it may hold only {', '.join(limits)}."
            )
    if len(set(names)) != len(names):
        # Two readers could pick different copies of a name: the one checked would not be the one used.
        raise SnapshotError(f"{label} holds the same file name twice; refused.")
    for info in infos:
        if info.flag_bits & 0x1:
            raise SnapshotError(f"{label}: {info.filename} is encrypted.")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise SnapshotError(f"{label}: {info.filename} uses an unsupported compression method.")
        if info.file_size > limits[info.filename]:
            raise SnapshotError(
                f"{label}: {info.filename} would unpack to {mb(info.file_size)}, "
                f"more than the {mb(limits[info.filename])} allowed."
            )
        if info.file_size > EXPANSION_FLOOR and info.file_size > MAX_EXPANSION * info.compress_size:
            raise SnapshotError(
                f"{label}: {info.filename} would expand from {mb(info.compress_size)} to {mb(info.file_size)}, "
                f"more than {MAX_EXPANSION}x; refused as a possible zip bomb."
            )


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, label: str) -> bytes:
    # zipfile stops at the declared size and checks the CRC; the running cap guards against both failing.
    chunks, total = [], 0
    with archive.open(info) as member:
        while chunk := member.read(2**20):
            total += len(chunk)
            if total > min(limit, info.file_size):
                raise SnapshotError(f"{label}: {info.filename} unpacks to more than it declares; refused.")
            chunks.append(chunk)
    return b"".join(chunks)


def _unsafe(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or ":" in name or "\x00" in name or ".." in parts
