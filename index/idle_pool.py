"""A parse pool started on first use and closed once it has gone unused for a while.

The daemon keeps one for the writer and one for the answer path (citation checks, passage views):
starting workers per change or per question would add latency, and keeping them for good would
hold their memory while nobody indexes or asks.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ragd.index.isolate import Job, ParsePool, ParseResult


class IdlePool:
    def __init__(self, factory: Callable[[], ParsePool]) -> None:
        self.factory = factory
        self.pool: ParsePool | None = None
        self._lock = threading.Lock()  # held while the pool is in use
        self._used = time.monotonic()

    @contextmanager
    def use(self) -> Iterator[ParsePool]:
        """The pool, started if needed; one user at a time."""
        with self._lock:
            if self.pool is None:
                self.pool = self.factory()
            try:
                yield self.pool
            finally:
                self._used = time.monotonic()

    def parse(self, job: Job) -> ParseResult:
        with self.use() as pool:
            return pool.parse(job)

    def close_if_idle(self, idle_s: float) -> bool:
        """Close the pool if nobody has used it for ``idle_s`` seconds (0: never); True if it was closed."""
        if self.pool is None or idle_s <= 0 or not self._lock.acquire(blocking=False):
            return False
        try:
            if self.pool is None or time.monotonic() - self._used < idle_s:
                return False
            self.pool.close()
            self.pool = None
            return True
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            if self.pool is not None:
                self.pool.close()
                self.pool = None
