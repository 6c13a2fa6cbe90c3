"""Free space under the data folder: checked before the index is written, so that a full disk stops
indexing cleanly instead of failing inside a store.

SQLite answers a full disk with a clean error and a rolled-back transaction, but the embedded
Chroma does not: a write that fails half-way through its compaction can leave its next write blocked
for good (seen when a probe filled the disk). So the writer never lets the disk get that full: it
checks the free space before each file it stores and stops while less than a reserve is left.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from ragd.index.errors import RagdError

DEFAULT_RESERVE_MB = 64
MB = 1024 * 1024
_FULL_WORDS = ("no space left", "disk is full", "database or disk is full", "disk quota exceeded")


class OutOfSpace(RagdError):
    """Less free space than the index needs; indexing waits until there is enough again."""

    def __init__(self, path: Path, free: int, needed: int) -> None:
        self.path = path
        self.free = free
        self.needed = needed
        super().__init__(
            f"the disk holding {path} is full: {free / MB:.0f} MB free, and indexing needs {needed / MB:.0f} MB "
            f"free ({max(needed - free, 0) / MB:.0f} MB more; the reserve is the setting min_free_mb)")


@dataclass(frozen=True)
class SpaceGuard:
    """``check()`` raises ``OutOfSpace`` while the filesystem of ``path`` has less than ``reserve`` bytes free."""

    path: Path
    reserve: int = DEFAULT_RESERVE_MB * MB

    def free(self) -> int:
        here = self.path
        while not here.exists() and here != here.parent:  # the data folder may not exist yet
            here = here.parent
        return int(shutil.disk_usage(here).free)

    def check(self, margin: int = 0) -> None:
        """Raise ``OutOfSpace`` unless ``reserve + margin`` bytes are free."""
        needed = self.reserve + margin
        free = self.free()
        if free < needed:
            raise OutOfSpace(self.path, free, needed)

    def explains(self, exc: BaseException) -> OutOfSpace | None:
        """``exc`` as an ``OutOfSpace`` if a full disk caused it (or may well have), else None.

        Stores word a full disk their own way (Chroma's "Error in compaction: Failed to apply logs"
        names no cause), so an error from a write while the disk is short of the reserve counts too.
        """
        if isinstance(exc, OutOfSpace):
            return exc
        free = self.free()
        if _says_full(exc) or free < self.reserve:
            return OutOfSpace(self.path, free, self.reserve)
        return None


def _says_full(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(current, sqlite3.Error) and getattr(current, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        if any(word in str(current).lower() for word in _FULL_WORDS):
            return True
        current = current.__cause__ or current.__context__
    return False
