"""Damage the running daemon notices in its stores, and the repairs its writer makes.

Readers (searches, status) and the writer report a damaged store with ``noticed``: the damage shows
in ``status`` at once, and one repair job goes to the writer thread (the only one that may change the
index). The repair checks the catalog (``PRAGMA quick_check``; a damaged one is moved aside and started
anew), drops a vector collection that failed to answer, puts back every vector the catalog lists, and
asks for a scan that re-indexes what the new catalog lacks. Readers reopen their connections after it
(``generation``). A crash in the vector store's native code cannot be caught in-process: it ends the
daemon, and the next start finds the damage in a child process (``Container.vectors``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from ragd.daemon.container import Container
from ragd.index.pipeline import Indexer
from ragd.index.store.health import Repair

log = logging.getLogger(__name__)

KEPT = 20  # repairs listed in status


class StoreRepairs:
    def __init__(self, writes: Container, submit: Callable[[Callable[[], None]], int],
                 request_scan: Callable[[], int]) -> None:
        self.writes = writes
        self.submit = submit
        self.request_scan = request_scan
        self.generation = 0  # bumped when the catalog file was replaced: readers reconnect
        self._lock = threading.Lock()
        self._damaged: dict[str, str] = {}  # store → what went wrong, until the writer has repaired it
        self._queued = False
        self._vectors_failed = False

    def noticed(self, store: str, exc: BaseException) -> None:
        """A store failed in a way that means damage ("catalog" or "vector store"); repair it soon, once."""
        with self._lock:
            first = store not in self._damaged
            self._damaged[store] = f"{type(exc).__name__}: {exc}"
            if store == "vector store":
                self._vectors_failed = True
            queue = not self._queued
            self._queued = True
        if first:
            log.error("the %s is damaged (%s); the writer repairs it", store, exc)
        if queue:
            self.submit(self._repair_job)

    def _repair_job(self) -> None:
        self.repair()

    def repair(self) -> list[Repair]:
        """Check and repair every store (the writer's thread). Returns what was repaired."""
        with self._lock:
            self._queued = False
            vectors_failed, self._vectors_failed = self._vectors_failed, False
        done: list[Repair] = []
        catalog = self.writes.repair_catalog()
        if catalog is not None:
            done.append(catalog)
            self.generation += 1
        vectors = self.writes.vectors
        problem = self._vector_problem(query=vectors_failed)  # a search failed: see if a query still fails
        if problem is not None:
            vectors.reset()
            done.append(Repair("vector store", problem, "dropped the collection; its vectors were put back from "
                               "the catalog and the embedding cache", None, time.time()))
            self.writes.record_repair(done[-1])
        indexer: Indexer = self.writes.indexer
        indexer.reconcile_vectors()  # every vector the catalog lists, back from the embedding cache
        with self._lock:
            self._damaged.clear()
        if done:
            self.request_scan()
        return done

    def check_catalog(self) -> None:
        """The periodic check (writer's thread): ``quick_check`` only; a repair if it finds damage."""
        repaired = self.writes.repair_catalog()
        if repaired is not None:
            self.generation += 1
            self.writes.indexer.reconcile_vectors()
            self.request_scan()

    def _vector_problem(self, query: bool) -> str | None:
        vectors = self.writes.vectors
        try:
            if vectors.count() and query:
                vectors.query(np.zeros(self.writes.embedder.dim, dtype=np.float32), 1)
            vectors.ids()
        except Exception as exc:  # a collection that cannot count, answer or list its ids
            return f"{type(exc).__name__}: {exc}"
        return None

    def problems(self) -> list[dict[str, Any]]:
        """``status`` lines: damage being repaired now, then the repairs made since the daemon started."""
        paths = {"catalog": str(self.writes.config.catalog_path), "vector store": str(self.writes.config.chroma_path)}
        with self._lock:
            active = [{"path": paths.get(store, store), "status": "damaged",
                       "reason": f"the {store} is damaged ({why}); ragd is rebuilding it"}
                      for store, why in self._damaged.items()]
        recent = [{"path": r.moved_to or paths.get(r.store, r.store), "status": "repaired",
                   "reason": f"the {r.store} was damaged ({r.problem}); {r.action}"}
                  for r in self.writes.repairs[-KEPT:]]
        return active + recent[::-1]

    @property
    def damaged(self) -> bool:
        with self._lock:
            return bool(self._damaged)
