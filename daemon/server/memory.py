"""Giving freed memory back to the system once the daemon is idle.

glibc keeps memory that Python, torch and chromadb free in its arenas: after indexing a large batch
the daemon's RSS stays at its peak although most of it is free (measured in bench/memory.py).
``malloc_trim(0)`` returns those pages; it takes milliseconds and nothing else releases them. There is
no portable equivalent, so other C libraries (macOS, musl) get only the garbage collection.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Callable
from functools import cache


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim: Callable[[int], int] = libc.malloc_trim  # absent outside glibc
    except (OSError, AttributeError):
        return None
    return trim


def release_freed_memory() -> bool:
    """Collect garbage and hand free heap pages back to the OS; True when the C library could."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
