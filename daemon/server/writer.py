"""The index writer: the one thread that changes the index, fed by the change queue.

It runs full scans (start-up, periodic reconcile, ``/v1/reindex``), updates for the paths the
watcher reported, and jobs such as adding or removing a source. A full scan does not hold the writer
for its whole length: it walks in slices, and between two slices the writer applies the paths that fell
due meanwhile, so that a save or a delete during a scan of a big tree is applied as quickly as any other
(jobs and further scans wait for the scan to end). It reports progress for
``/v1/status``, can be paused, and on stop finishes the file in hand and exits: what was
stored is consistent, and what was not is found again by the next start's scan.

A full disk is a state, not a failure: before each file is stored the writer checks the free space
(``SpaceGuard``); short of it, or when a store fails for lack of it, the batch goes back to the queue
under its own request number, the writer holds everything but jobs, and it looks again every few
seconds, resuming with a scan once there is room.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ragd.connectors import Connector
from ragd.daemon.server.changes import Batch, ChangeQueue
from ragd.index.pipeline import Cancelled, Indexer, IndexStats, Slices
from ragd.index.store.health import is_corruption
from ragd.index.store.space import OutOfSpace, SpaceGuard

log = logging.getLogger(__name__)

SPACE_POLL_S = 2.0  # how often a writer stopped by a full disk looks at the free space again
SCAN_SLICE_S = 0.25  # a scan's walking between two looks at the queue
SCAN_SLICE_FILES = 64  # files a scan (re)indexes between two looks at the queue (a first index)


@dataclass
class Progress:
    state: str = "starting"  # starting | scanning | indexing | idle | out_of_space | stopped (or "paused")
    batch_total: int = 0
    batch_done: int = 0
    current: str | None = None
    batch_started: float | None = None
    totals: IndexStats = field(default_factory=IndexStats)  # every batch since the daemon started
    last_change: dict[str, Any] | None = None  # the last batch's stats
    last_scan: dict[str, Any] | None = None  # the last full scan's stats
    last_error: str | None = None
    out_of_space: OutOfSpace | None = None  # set while indexing waits for free space

    def eta_s(self, now: float) -> float | None:
        if not self.batch_done or self.batch_started is None or self.batch_done >= self.batch_total:
            return None
        per_file = (now - self.batch_started) / self.batch_done
        return round(per_file * (self.batch_total - self.batch_done), 1)


class IndexWriter:
    def __init__(self, indexer: Indexer, connectors: Callable[[], Sequence[Connector]], queue: ChangeQueue,
                 on_batch: Callable[[Batch, IndexStats | None], None] | None = None,
                 space: SpaceGuard | None = None,
                 on_damage: Callable[[str, BaseException], None] | None = None) -> None:
        self.indexer = indexer
        self.space = space
        self.on_damage = on_damage  # told when a store turns out damaged (the runtime schedules a repair)
        self.connectors = connectors
        self.queue = queue
        self.on_batch = on_batch  # called after each batch (tests and the benchmark wait on it)
        self.progress = Progress()
        self._lock = threading.Lock()
        self._running = threading.Event()
        self._running.set()
        self._stopping = False
        self._full_since = 0.0  # when indexing last found the disk full
        self.slice_s = SCAN_SLICE_S  # a scan's slices (see ``Slices``; tests make them small)
        self.slice_files = SCAN_SLICE_FILES
        self._thread = threading.Thread(target=self._loop, name="ragd-writer", daemon=True)

    # -- control --------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Finish the file in hand, then stop."""
        self._stopping = True
        self._running.set()
        self.queue.stop()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def pause(self) -> None:
        """Hold indexing (a batch in hand stops after its current file); changes keep being queued."""
        self._running.clear()
        self.queue.hold(True)

    def resume(self) -> None:
        self._running.set()
        self.queue.hold(self.progress.out_of_space is not None)

    @property
    def alive(self) -> bool:
        """The writer thread is still running (after ``stop``: it did not finish in time)."""
        return self._thread.is_alive()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    def snapshot(self) -> dict[str, Any]:
        """Progress as JSON: files queued, done, failed, the current file and an ETA."""
        with self._lock:
            p = self.progress
            in_batch = max(0, p.batch_total - p.batch_done)
            full = p.out_of_space
            return {
                "state": "paused" if self.paused and p.state != "stopped" else p.state,
                "queued": self.queue.pending() + in_batch,
                "done_through": self.queue.done_through(),  # every request numbered up to this is written
                "batch": {"done": p.batch_done, "total": p.batch_total},
                "current": p.current,
                "eta_s": p.eta_s(time.monotonic()),
                "totals": p.totals.to_json(),  # ragd index through the daemon: the run is the change in these
                "last_change": p.last_change,
                "last_scan": p.last_scan,
                "last_error": p.last_error,
                "out_of_space": None if full is None else {
                    "path": str(full.path), "free_bytes": full.free, "needed_bytes": full.needed,
                    "message": f"{full}. Searches still answer from what is indexed; indexing resumes by itself "
                               "once there is room"},
            }

    # -- the loop ---------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stopping:
            if self.progress.out_of_space is not None:
                self._wait_for_space()
            batch = self.queue.take(timeout=SPACE_POLL_S if self.progress.out_of_space else 1.0)
            if batch is None:
                continue
            stats: IndexStats | None = None
            full: OutOfSpace | None = None
            try:
                stats = self._run(batch)
                if stats is not None and self.progress.out_of_space is not None:
                    self._room_again()  # the batch held back by a full disk is written: the state is over
            except Cancelled:
                break
            except Exception as exc:  # one bad batch must not stop the daemon; the next scan retries
                full = self.space.explains(exc) if self.space is not None else None
                if is_corruption(exc) and self.on_damage is not None:
                    self.queue.retry(batch)  # redone after the repair job, which runs first
                    self.on_damage("catalog", exc)
                elif full is None:
                    log.exception("indexing failed")
                    self._set(last_error=f"{type(exc).__name__}: {exc}")
                else:
                    self.queue.retry(batch)  # nothing of it is lost: it is written once there is room
                    self._out_of_space(full, exc)
            finally:
                self.queue.done()
                with self._lock:
                    p = self.progress
                    p.batch_total = p.batch_done = 0
                    p.current, p.batch_started = None, None
                    p.state = "stopped" if self._stopping else "out_of_space" if p.out_of_space else "idle"
            if self.on_batch is not None:
                self.on_batch(batch, stats)
        self._set(state="stopped")

    def _out_of_space(self, full: OutOfSpace, exc: BaseException) -> None:
        """Hold the queue (jobs still run) until ``_wait_for_space`` sees room again."""
        if self.progress.out_of_space is None:
            cause = "" if exc is full else f" ({type(exc).__name__}: {exc})"
            log.warning("indexing stopped: %s%s", full, cause)
        self.queue.hold(True)
        self._full_since = time.monotonic()
        self._set(out_of_space=full, state="out_of_space")

    def _wait_for_space(self) -> None:
        """Every ``SPACE_POLL_S``: once the reserve is free again, let the held batch be tried again. The state
        ends when a batch is written (``_room_again``): a store can be short of room that the free space does
        not show (a quota, no inodes left), and then the retry fails and the wait starts over."""
        assert self.space is not None
        if time.monotonic() - self._full_since < SPACE_POLL_S:
            return
        try:
            self.space.check()
        except OutOfSpace as still:
            self._set(out_of_space=still)
            self._full_since = time.monotonic()
            return
        self.queue.hold(self.paused)

    def _room_again(self) -> None:
        log.warning("there is room again (%d MB free); indexing resumed", self.space.free() // (1024 * 1024)
                    if self.space is not None else 0)
        self._set(out_of_space=None)

    def _run(self, batch: Batch) -> IndexStats | None:
        for job in batch.jobs:
            job()
        if not batch.full_scan and not batch.paths:
            return None
        if self.space is not None:
            self.space.check()
        self._set(state="scanning" if batch.full_scan else "indexing", batch_started=time.monotonic())
        connectors = self.connectors()
        if batch.full_scan:
            slices = Slices(lambda: self._between_slices(connectors), self.slice_s, self.slice_files)
            stats = self.indexer.run(connectors, prune_outside=True, progress=self._report, slices=slices)
        else:
            stats = self.indexer.update(connectors, batch.paths, progress=self._report)
        self._count(stats, batch.full_scan)
        return stats

    def _between_slices(self, connectors: Sequence[Connector]) -> None:
        """Between two slices of a full scan: wait while paused, stop if asked, apply the paths now due."""
        if not self._running.is_set():
            self._running.wait()
        if self._stopping:
            raise Cancelled
        batch = self.queue.take_due()
        if batch is None:
            return
        try:
            stats = self.indexer.update(connectors, batch.paths, progress=self._report)
        except BaseException:
            self.queue.retry(batch)  # not written: queued again under its own number
            raise
        self._count(stats, full_scan=False)
        if self.on_batch is not None:
            self.on_batch(batch, stats)

    def _count(self, stats: IndexStats, full_scan: bool) -> None:
        summary = stats.to_json()
        with self._lock:
            p = self.progress
            p.totals.add(stats)
            if full_scan:
                p.last_scan = summary
            else:
                p.last_change = summary

    def _report(self, done: int, total: int, path: str) -> None:
        """The indexer's progress callback: record it, wait while paused, stop when asked."""
        with self._lock:
            p = self.progress
            if p.state == "scanning":
                p.state = "indexing"
            p.batch_done, p.batch_total, p.current = done, total, path
        if not self._running.is_set():
            self._running.wait()
        if self._stopping:
            raise Cancelled

    def _set(self, **values: Any) -> None:
        with self._lock:
            for key, value in values.items():
                setattr(self.progress, key, value)
