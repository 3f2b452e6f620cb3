"""Hand freed memory back to the system, so that a server's RSS falls again after sessions end.

Python and TensorFlow allocate through glibc's malloc. With one arena per busy thread (up to 8 per core),
memory freed by a finished job stays in its thread's arena and the process keeps it: in tests.bench_load the
RSS grew 50-100 MB per wave of sessions and never fell. Fewer arenas leave less of it stranded, and
`malloc_trim` returns the free pages of every arena (50-80 MB within 30 s of a wave's sessions ending, in
tests.bench_load). Elsewhere than glibc (macOS, musl) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

M_ARENA_MAX = -8  # glibc's malloc.h
DEFAULT_ARENAS = 2
ARENAS_VARIABLE = "MALLOC_ARENA_MAX"  # glibc's own variable: when set, glibc has applied it already


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt, libc.malloc_trim  # noqa: B018 - both must exist (glibc)
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(count: int = DEFAULT_ARENAS) -> bool:
    """Cap malloc's arenas at `count` unless MALLOC_ARENA_MAX is set; True if the cap was set here.

    glibc fixes its arena limit once the process has more than 8 arenas, so call this early, before the
    threads that train start.
    """
    libc = _glibc()
    if libc is None or os.environ.get(ARENAS_VARIABLE):
        return False
    return bool(libc.mallopt(M_ARENA_MAX, count))


def release_free_memory() -> bool:
    """Return malloc's free pages to the system; True if any were."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
