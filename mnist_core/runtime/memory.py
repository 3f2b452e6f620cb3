"""Hand freed memory back to the system, so that a server's RSS falls again after sessions end.

Large blocks (4 MB and more: a batch's activations at large batch sizes, evaluation chunks, the epoch's shuffled
copy of MNIST) get mappings of their own, which go back to the system when freed. glibc's default puts blocks of
up to 32 MB in its heaps once it has freed one that size, where the small long-lived blocks that land between
them keep their pages: jobs run one after another in one process left 26 MB more each after `malloc_trim`, and
3.5 MB with the fixed threshold, at the same speed (`python -m tools.bench_allocator [--map-large-blocks]`).
The server (streamlit_app.py) and the headless benchmark (tools.bench) call `map_large_blocks` first.

Python and TensorFlow allocate through glibc's malloc (TensorFlow's oneDNN build only with
TF_ONEDNN_USE_SYSTEM_ALLOCATOR=1, set by mnist_core's import: otherwise it keeps a pool that never shrinks).
`malloc_trim` returns the free pages of every arena (tools.bench_load: RSS fell 20-70 MB within 30 s of a wave's
sessions ending). Capping the arenas (MALLOC_ARENA_MAX=2) leaves less freed memory stranded, but only the
environment can do that for a server: glibc fixes its limit once a process has more than 8 arenas, and under
`streamlit run` the server's threads have made them (16 on 2 cores) before the app's first line runs.
Elsewhere than glibc (macOS, musl) this is a no-op.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters (malloc.h)
LARGE_BLOCK = 4 * 2**20
# A fixed mmap threshold also fixes the trim threshold (at 128 kB unless set): the heap's top would be handed
# back and taken again at every training step. Freed pages go back through malloc_trim once sessions end.
TRIM_THRESHOLD = 2**30


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


def map_large_blocks() -> bool:
    """Give every block of LARGE_BLOCK bytes or more a mapping of its own (glibc); True if set."""
    libc = _glibc()
    if libc is None:
        return False
    return libc.mallopt(M_MMAP_THRESHOLD, LARGE_BLOCK) == 1 and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
