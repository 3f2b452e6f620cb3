"""mnist_core.memory: freed memory goes back to the system (glibc; elsewhere the call is a no-op)."""

from __future__ import annotations

import gc
import threading

import psutil
import pytest

from mnist_core import memory

glibc = pytest.mark.skipif(memory._glibc() is None, reason="not glibc: nothing to trim")


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def _fragment(keep: list) -> None:
    """Allocate ~300 MB in 1 kB blocks (above pymalloc's 512 bytes: from malloc) and free all but 1 in 500."""
    blocks = [bytes(1000) + bytes([i % 256]) for i in range(300_000)]
    keep.extend(blocks[::500])  # one live block per ~0.5 MB: malloc cannot shrink its heap from the top
    del blocks
    gc.collect()


@glibc
@pytest.mark.parametrize("where", ["main thread", "worker thread"])
def test_release_free_memory_hands_freed_pages_back(where: str) -> None:
    keep: list = []
    memory.release_free_memory()  # free pages left by earlier tests would absorb the allocation unseen
    before = _rss_mb()
    if where == "main thread":
        _fragment(keep)
    else:  # a training thread's arena
        worker = threading.Thread(target=_fragment, args=(keep,))
        worker.start()
        worker.join()
    held = _rss_mb()
    assert held - before > 200, (before, held)  # freed, but still the process's
    memory.release_free_memory()
    after = _rss_mb()
    assert after - before < 60, (before, held, after)
    assert len(keep) == 600 and all(len(b) == 1001 for b in keep)  # the live blocks are intact


def test_no_glibc_means_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(memory, "_glibc", lambda: None)
    assert memory.release_free_memory() is False
