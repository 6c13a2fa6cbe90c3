"""release_freed_memory really hands freed heap pages back (glibc's malloc_trim), measured by RSS."""

from __future__ import annotations

import gc
import sys

import psutil
import pytest

from ragd.daemon.server.memory import release_freed_memory


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="malloc_trim is glibc's")
def test_freed_heap_returns_to_the_system():
    release_freed_memory()
    # 2 KiB objects come from malloc's heap (below its mmap threshold, above Python's small-object
    # allocator), like parsed text and chunk lists: glibc keeps them when they are freed. One in
    # 64 stays alive until the end, so the heap cannot simply shrink from the top.
    blocks = [bytes(2048) for _ in range(150_000)]
    keep = blocks[1::64]
    del blocks
    gc.collect()
    before = rss_mb()
    assert release_freed_memory() is True
    after = rss_mb()
    assert before - after > 100, f"RSS {before:.0f} MB before, {after:.0f} MB after the trim"
    assert len(keep) > 0
