"""A bound on the writer's calls into the vector store: a call that never returns ends the process.

The embedded Chroma runs native code; a call blocked inside it may hold the GIL, and then no Python
thread runs at all: not the API, not ``/healthz``, not the SIGTERM handler. Only a native timer can act
then, and Python has one: ``faulthandler.dump_traceback_later(exit=True)``, a C thread that writes every
thread's stack to stderr (the journal) and ends the process. The service manager starts ragd again
(``Restart=on-failure``), and the start reconciles the stores, so a hang costs a restart, never the index.

One timer serves every thread: it is set to the earliest deadline of the calls in flight.
"""

from __future__ import annotations

import faulthandler
import itertools
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TypeVar

from ragd.index.embed import Vectors
from ragd.index.store.vectors import VectorStore

T = TypeVar("T")
DEFAULT_LIMIT_S = 600.0  # far above any single call's time (a 4,000-vector upsert takes well under a second)


class Deadlines:
    """Calls in flight with their deadlines; the native timer fires at the earliest."""

    def __init__(self, exit_process: bool = True) -> None:
        self.exit_process = exit_process
        self._lock = threading.Lock()
        self._ids = itertools.count()
        self._due: dict[int, float] = {}

    def run(self, limit_s: float, call: Callable[[], T]) -> T:
        key = next(self._ids)
        with self._lock:
            self._due[key] = time.monotonic() + limit_s
            self._arm()
        try:
            return call()
        finally:
            with self._lock:
                del self._due[key]
                self._arm()

    def _arm(self) -> None:
        if not self._due:
            faulthandler.cancel_dump_traceback_later()
            return
        stream = sys.__stderr__  # the real fd 2 (the journal), whatever replaced sys.stderr
        if stream is None:
            return
        left = max(0.001, min(self._due.values()) - time.monotonic())
        faulthandler.dump_traceback_later(left, repeat=False, file=stream, exit=self.exit_process)


DEADLINES = Deadlines()  # one per process: faulthandler has one timer


class WatchedVectors(VectorStore):
    """A ``VectorStore`` whose writes, listings and counts are bounded by ``limit_s`` (see the module's
    docstring)."""

    def __init__(self, inner: VectorStore, limit_s: float = DEFAULT_LIMIT_S,
                 deadlines: Deadlines = DEADLINES) -> None:
        self.inner = inner
        self.limit_s = limit_s
        self.deadlines = deadlines

    def upsert(self, ids: Sequence[str], vectors: Sequence[Vectors]) -> None:
        self.deadlines.run(self.limit_s, lambda: self.inner.upsert(ids, vectors))

    def delete(self, ids: Sequence[str]) -> None:
        self.deadlines.run(self.limit_s, lambda: self.inner.delete(ids))

    def query(self, vector: Vectors, k: int, ids: Sequence[str] | None = None) -> list[tuple[str, float]]:
        # Searches are not bounded: arming the native timer starts a thread each time, too dear per search,
        # and a search holds no lock the writer or the API needs.
        return self.inner.query(vector, k, ids)

    def ids(self) -> set[str]:
        return self.deadlines.run(self.limit_s, self.inner.ids)

    def count(self) -> int:
        return self.deadlines.run(self.limit_s, self.inner.count)

    def reset(self) -> None:
        self.deadlines.run(self.limit_s, self.inner.reset)

    def drop_others(self) -> list[str]:
        return self.deadlines.run(self.limit_s, self.inner.drop_others)
