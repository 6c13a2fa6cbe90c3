"""The queue between the watcher and the index writer: changed paths, coalesced and debounced.

A path becomes due ``debounce_s`` after its last event, so a burst of writes (an editor's
atomic save, a sync tool copying a folder) is indexed once, after it settles; ``max_wait_s``
bounds the delay for a file that never stops changing. A full scan request (start-up,
the periodic reconcile, ``/v1/reindex``) travels through the same queue, so one thread writes;
while a scan runs, the writer takes the paths that fall due between its slices (``take_due``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Batch:
    paths: list[str] = field(default_factory=list)
    full_scan: bool = False
    jobs: list[Callable[[], None]] = field(default_factory=list)  # other writes (add or remove a source)
    first_seq: int = 0  # the oldest request this batch serves


class ChangeQueue:
    def __init__(self, debounce_s: float = 0.3, max_wait_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.debounce_s = debounce_s
        self.max_wait_s = max_wait_s
        self.clock = clock
        self._due: dict[str, float] = {}
        self._first: dict[str, float] = {}
        self._seq_of: dict[str, int] = {}  # each pending path's oldest request number
        self._full_scan: int | None = None  # the request number of a pending full scan
        self._jobs: list[tuple[int, Callable[[], None]]] = []
        self._stopped = False
        self._held = False
        self._seq = 0
        self._inflight: int | None = None  # the oldest request in the batch being written
        self._cond = threading.Condition()

    # Every request gets a number; ``done_through()`` says up to which number all are written,
    # so a caller can wait for its own request (``ragd index`` through the daemon does).
    def add(self, paths: Iterable[str]) -> int:
        with self._cond:
            now = self.clock()
            self._seq += 1
            for path in paths:
                first = self._first.setdefault(path, now)
                self._seq_of.setdefault(path, self._seq)
                self._due[path] = min(now + self.debounce_s, first + self.max_wait_s)
            self._cond.notify_all()
            return self._seq

    def request_full_scan(self) -> int:
        with self._cond:
            self._seq += 1
            if self._full_scan is None:
                self._full_scan = self._seq
            self._cond.notify_all()
            return self._seq

    def submit(self, job: Callable[[], None]) -> int:
        """Run ``job`` on the writer's thread, before any pending paths."""
        with self._cond:
            self._seq += 1
            self._jobs.append((self._seq, job))
            self._cond.notify_all()
            return self._seq

    def retry(self, batch: Batch) -> None:
        """Queue what ``batch`` asked for again, under its own request number (it was not written)."""
        with self._cond:
            now = self.clock()
            if batch.full_scan:
                self._full_scan = min(self._full_scan or batch.first_seq, batch.first_seq)
            for path in batch.paths:
                self._first.setdefault(path, now)
                self._seq_of[path] = min(self._seq_of.get(path, batch.first_seq), batch.first_seq)
                self._due.setdefault(path, now)
            self._cond.notify_all()

    def done(self) -> None:
        """The writer finished the batch it took."""
        with self._cond:
            self._inflight = None
            self._cond.notify_all()

    def done_through(self) -> int:
        """The highest request number up to which every request has been written."""
        with self._cond:
            open_ = [*self._seq_of.values(), *(s for s, _ in self._jobs)]
            if self._full_scan is not None:
                open_.append(self._full_scan)
            if self._inflight is not None:
                open_.append(self._inflight)
            return min(open_) - 1 if open_ else self._seq

    def pending(self) -> int:
        with self._cond:
            return len(self._due)

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    @property
    def stopped(self) -> bool:
        return self._stopped

    def hold(self, held: bool) -> None:
        """While held (indexing paused), ``take`` returns only jobs; paths and scans stay queued."""
        with self._cond:
            self._held = held
            self._cond.notify_all()

    def take(self, timeout: float | None = None) -> Batch | None:
        """Wait for work: jobs, a full scan (which covers every pending path) or the paths now due.

        Returns None when stopped or when ``timeout`` passes with nothing due.
        """
        deadline = None if timeout is None else self.clock() + timeout
        with self._cond:
            while not self._stopped:
                now = self.clock()
                if self._jobs:
                    jobs, self._jobs = self._jobs, []
                    return self._taken(Batch(jobs=[j for _, j in jobs], first_seq=jobs[0][0]))
                if self._held:
                    if deadline is not None and now >= deadline:
                        return None
                    self._cond.wait(None if deadline is None else deadline - now)
                    continue
                if self._full_scan is not None:  # it covers every pending path
                    first = min([self._full_scan, *self._seq_of.values()])
                    self._full_scan = None
                    self._due.clear()
                    self._first.clear()
                    self._seq_of.clear()
                    return self._taken(Batch(full_scan=True, first_seq=first))
                due = self._due_paths(now)
                if due is not None:
                    return self._taken(due)
                wake = min(self._due.values(), default=None)
                if deadline is not None:
                    if now >= deadline:
                        return None
                    wake = deadline if wake is None else min(wake, deadline)
                self._cond.wait(None if wake is None else max(0.0, wake - now))
            return None

    def take_due(self) -> Batch | None:
        """The paths due now, without waiting, for the writer to apply between two slices of a full scan: no
        jobs and no scan (those wait for the scan in hand to end), nothing while held. The scan stays the batch
        in flight, so ``done_through`` counts these paths as written only when the scan is."""
        with self._cond:
            if self._held or self._stopped:
                return None
            return self._due_paths(self.clock())

    def _due_paths(self, now: float) -> Batch | None:
        due = sorted(p for p, t in self._due.items() if t <= now)
        if not due:
            return None
        first = min(self._seq_of[p] for p in due)
        for path in due:
            del self._due[path], self._first[path], self._seq_of[path]
        return Batch(paths=due, first_seq=first)

    def _taken(self, batch: Batch) -> Batch:
        self._inflight = batch.first_seq
        return batch
