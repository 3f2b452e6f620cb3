"""Hand freed memory back to the system, so that a server's RSS falls again after sessions end.

Python and TensorFlow allocate through glibc's malloc. `malloc_trim` returns the free pages of every arena
(tests.bench_load: RSS fell 20-70 MB within 30 s of a wave's sessions ending). Capping the arenas
(MALLOC_ARENA_MAX=2) leaves less freed memory stranded, but only the environment can do that for a server:
glibc fixes its limit once a process has more than 8 arenas, and under `streamlit run` the server's threads
have made them (16 on 2 cores) before the app's first line runs. Elsewhere than glibc (macOS, musl) this is a
no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim  # noqa: B018 - it must exist (glibc)
    except (OSError, AttributeError):
        return None
    return libc


def release_free_memory() -> bool:
    """Return malloc's free pages to the system; True if any were."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False
