"""The running daemon's parts and their lifetime: writer, watcher, scheduler, and the read side.

The writer side (one ``Container``, one thread) owns the index: it holds the writer lock for
the daemon's lifetime. Requests read through a read-only side that shares the embedding model
and the vector store with it; each request thread gets its own read-only catalog connection.
Questions are answered one at a time (one model in memory).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import AbstractContextManager
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from ragd.connectors import Connector
from ragd.connectors.file_rules import Unreadable
from ragd.daemon.config import Config
from ragd.daemon.container import Container
from ragd.daemon.server.api import OnToken
from ragd.daemon.server.changes import Batch, ChangeQueue
from ragd.daemon.server.memory import release_freed_memory
from ragd.daemon.server.reads import ReadSide
from ragd.daemon.server.repairs import StoreRepairs
from ragd.daemon.server.settings import ServerSettings
from ragd.daemon.server.shared_embedder import SharedEmbedder
from ragd.daemon.server.watcher import Watcher
from ragd.daemon.server.writer import IndexWriter
from ragd.daemon.service.local import not_a_source
from ragd.daemon.service.records import SourceInfo
from ragd.index import tokenize
from ragd.index.answer.history import History
from ragd.index.answer.models import Answer, AskOptions
from ragd.index.embed import Embedder
from ragd.index.embed.worker import EmbedWorker
from ragd.index.errors import RagdError
from ragd.index.idle_pool import IdlePool
from ragd.index.isolate import ParsePool
from ragd.index.llm.base import LLM
from ragd.index.lock import WriterLock
from ragd.index.models import Hit, Mode
from ragd.index.paths import resolve_paths
from ragd.index.pipeline import Indexer, IndexStats
from ragd.index.scope import Scope
from ragd.index.store.catalog import Catalog
from ragd.index.store.consistency import verify
from ragd.index.store.health import is_corruption
from ragd.index.store.vectors import VectorStore

log = logging.getLogger(__name__)

MODEL_NAME = "ragd"
HOUSEKEEPING_S = 30  # how often idle housekeeping runs (LLM unload, returning freed memory)
STATUS_PROBLEMS = 200  # problems listed in /v1/status (problems_total counts them all)


class Runtime:
    """The daemon: its writer, watcher and scheduler, with the read side (``ReadSide``) they keep current; the
    API's ``DaemonBackend``."""

    def __init__(self, config: Config, env: Mapping[str, str], *, settings: ServerSettings | None = None,
                 embedder: Embedder | None = None, vectors: VectorStore | None = None, llm: LLM | None = None,
                 on_batch: Callable[[Batch, IndexStats | None], None] | None = None) -> None:
        """``embedder``, ``vectors`` and ``llm`` replace the configured ones (tests pass fakes here)."""
        self.config = config
        self.env = env
        self.settings = settings or config.server
        self.started_at = time.time()
        self.lock = WriterLock(config.lock_path)
        self._locked = False
        self.acquire()  # before any store is opened: damaged ones are moved aside only under the writer lock
        # the model runs in a worker process that exits when idle, so the idle daemon holds none
        self.embed_worker: EmbedWorker | None = None
        if embedder is None:
            embedder = self.embed_worker = EmbedWorker(config.embedder, config.model_cache_dir,
                                                       idle_s=config.embed_idle_s)
        self.embedder = SharedEmbedder(embedder)
        self.writes = Container(config, embedder_override=self.embedder, vectors_override=vectors,
                                llm_override=llm, env=env, store_call_limit_s=self.settings.store_call_limit_s)
        self.queue = ChangeQueue(self.settings.debounce_s, self.settings.max_wait_s)
        self.parsers = IdlePool(self.writes.parse_pool)  # the writer's, kept between batches
        self.repairs = StoreRepairs(self.writes, self.queue.submit, self.queue.request_full_scan)
        try:
            indexer = self._indexer()
        except BaseException:
            self._release()
            raise
        self.writer = IndexWriter(indexer, self.connectors, self.queue, on_batch, space=self.writes.space,
                                  on_damage=self.repairs.noticed)
        self.watcher = Watcher(self.queue.add, ignore=self._ignored, on_overflow=self._events_lost)
        self.scheduler = BackgroundScheduler(daemon=True)
        self.read_side = ReadSide(config, env, self.writes, self.embedder, self.repairs, self.connectors)
        self._trimmed_after: tuple[int, int] | None = None
        self._connectors: list[Connector] = []
        self.unreadable = Unreadable()  # folders the scans could not read: listed in status()["problems"]
        self._roots: list[str] = []
        self._stopped = False
        self.stop_timeout_s = 30.0  # how long stop() waits for the writer to finish the file in hand

    # -- lifetime ---------------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the writer lock (a clear error if another ragd process holds it)."""
        if not self._locked:
            self.lock.__enter__()
            self._locked = True

    def start(self) -> None:
        """Take the writer lock, scan for what changed while stopped, watch, schedule."""
        self.acquire()
        try:
            self.writes.catalog  # creates the schema before any reader opens the file  # noqa: B018
            self.read_side.open()
            self._refresh_sources()
            if self.embed_worker is not None:  # models load while the first scan walks the folders
                threading.Thread(target=self._warm_embedder, name="embed-warm", daemon=True).start()
            self.queue.request_full_scan()
            self.writer.start()
            self.watcher.start()
            self._schedule()
        except BaseException:
            self._release()
            raise

    def stop(self) -> None:
        """Stop watching, finish the file in hand, release everything (once; later calls do nothing)."""
        if self._stopped:
            return
        self._stopped = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)
        self.watcher.stop()
        self.writer.stop(self.stop_timeout_s)
        if self.writer.alive:  # stuck in a store call: leave its connections alone, the process ends anyway
            log.error("the index writer did not stop within %.0f s; stopping without it (the next start "
                      "reconciles the stores)", self.stop_timeout_s)
            self._release()
            return
        self.parsers.close()
        for connector in self._connectors:  # a mailbox's connection is logged out
            connector.close()
        if self.embed_worker is not None:
            self.embed_worker.close()
        self.read_side.close()
        self.writes.close()
        self._release()

    def _warm_embedder(self) -> None:
        assert self.embed_worker is not None
        try:
            self.embed_worker.warm()
        except Exception as exc:  # the first real call reports it again, where someone sees it
            log.warning("could not start the embedding worker: %s", exc)

    def _release(self) -> None:
        if self._locked:
            self.lock.__exit__(None, None, None)
            self._locked = False

    def _schedule(self) -> None:
        minutes = self.settings.reconcile_minutes
        if minutes > 0:
            self.scheduler.add_job(self.reconcile, "interval", minutes=minutes, id="reconcile",
                                   max_instances=1, coalesce=True)
        self.scheduler.add_job(self._idle_housekeeping, "interval", seconds=HOUSEKEEPING_S, id="idle-housekeeping",
                               max_instances=1, coalesce=True)
        self.scheduler.add_job(self._prune_history, "interval", hours=6, id="history-retention",
                               max_instances=1, coalesce=True, next_run_time=None)
        self.scheduler.start()

    def reconcile(self) -> None:
        """A check of the catalog and a full scan through the writer, and a retry of folders that could not
        be watched."""
        self.watcher.watch(self.roots())
        self.queue.submit(self.repairs.check_catalog)
        self.queue.request_full_scan()

    def _events_lost(self) -> None:
        """The kernel dropped file events: scan now rather than at the next period (repeats coalesce)."""
        log.warning("file events were lost (the kernel's event queue overflowed); scanning the sources")
        self.queue.request_full_scan()

    def _idle_housekeeping(self) -> None:
        """Unload an idle LLM; once nothing is being indexed or answered, return freed memory to the OS."""
        if self.reads is not None and self.reads.llm_loaded and self.reads.llm.unload_if_idle():
            log.info("the model was idle; unloaded it")
            self._trimmed_after = None
        if self._close_idle_pools(self.config.embed_idle_s):
            log.info("parse workers unused for %.0f s; stopped them", self.config.embed_idle_s)
        if self.embed_worker is not None and self.embed_worker.release_counters():
            self._trimmed_after = None
        if tokenize.release_idle(self.config.embed_idle_s or float("inf")):
            log.info("Japanese dictionary unused for %.0f s; unloaded it", self.config.embed_idle_s)
            self._trimmed_after = None
        activity = (self.queue.done_through(), self.read_side.answers)
        quiet = self.writer.snapshot()["state"] == "idle" and not self.read_side.ask_lock.locked()
        if quiet and activity != self._trimmed_after:
            self._trimmed_after = activity
            release_freed_memory()

    def _prune_history(self) -> None:
        if self.reads is None:
            return
        days = self.reads.history_settings.retention_days
        if days > 0 and self.reads.history_path.exists():
            with History(self.reads.history_path) as history:
                history.prune(days)

    # -- the writer's side --------------------------------------------------------------------
    def _indexer(self) -> Indexer:
        indexer = self.writes.indexer
        indexer.pool_factory = self._shared_pool
        return indexer

    def _shared_pool(self) -> AbstractContextManager[ParsePool]:
        """One parse pool kept between batches (starting workers per change would add latency), closed by the
        idle housekeeping once unused for ``embed_idle_s`` (``_close_idle_pools``)."""
        return self.parsers.use()

    def _close_idle_pools(self, idle_s: float) -> bool:
        """Stop the writer's and the answer path's parse workers if unused for ``idle_s``."""
        closed = self.parsers.close_if_idle(idle_s)
        return (self.reads is not None and self.reads.release_idle_parsers(idle_s)) or closed

    def connectors(self) -> list[Connector]:
        return list(self._connectors)

    def roots(self) -> list[str]:
        """The source folders (and files) being watched."""
        return list(self._roots)

    def _refresh_sources(self) -> None:
        """Rebuild the connectors from the config and the catalog; watch exactly those folders, poll the others."""
        for old in self._connectors:
            old.close()
        self._roots = self.writes.source_paths()
        self._connectors = []
        for spec in self._roots:
            try:
                self._connectors.append(self.writes.connector(spec, sources=self._roots, unreadable=self.unreadable))
            except RagdError as exc:  # e.g. a source whose connector's extension was uninstalled
                log.warning("source %s left out: %s", spec, exc)
                self.unreadable.settle(spec, {spec: str(exc)})
        self.unreadable.keep_under(self._roots)
        self.watcher.watch([c.root for c in self._connectors if c.poll_s is None])
        self._schedule_polls()

    def _schedule_polls(self) -> None:
        """One job per polled source (a mailbox): when it changed, its items are queued as a folder's are."""
        polled = {f"poll:{c.root}": c for c in self._connectors if c.poll_s is not None}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("poll:") and job.id not in polled:
                job.remove()
        for job_id, connector in polled.items():
            self.scheduler.add_job(self._poll, "interval", seconds=connector.poll_s, id=job_id, args=[connector],
                                   replace_existing=True, max_instances=1, coalesce=True)

    def _poll(self, connector: Connector) -> None:
        if connector in self._connectors and connector.changed():
            self.queue.add([connector.root])

    def _ignored(self, path: str) -> bool:
        """The daemon's own files never count as changes (the data dir may sit inside a source)."""
        own = (str(self.config.data_dir), str(self.config.state_dir))
        return any(path == d or path.startswith(d + os.sep) for d in own)

    def _on_writer(self, job: Callable[[], Any], timeout: float = 60.0) -> Any:
        """Run ``job`` on the writer thread and wait for its result."""
        done: Future[Any] = Future()

        def run() -> None:
            try:
                done.set_result(job())
            except BaseException as exc:
                done.set_exception(exc)

        self.queue.submit(run)
        try:
            return done.result(timeout)
        except FutureTimeout:
            raise RagdError("the index writer is busy (or paused in the middle of a batch); try again") from None

    def add_source(self, path: str) -> tuple[bool, int]:
        """Watch and index a folder (or file). Returns whether it is new, and the request's number."""
        root = resolve_paths([path])[0]
        kind = self.writes.probe(root)

        def job() -> bool:
            added = self.writes.catalog.add_source(root, kind)
            self._refresh_sources()
            return added

        added: bool = self._on_writer(job)
        return added, self.queue.add([root])

    def remove_source(self, path: str) -> int:
        """Stop watching a folder and drop its files from the index; returns how many were dropped."""
        root = resolve_paths([path])[0]

        def job() -> int:
            if not self.writes.catalog.remove_source(root):
                raise not_a_source(root, self.writes.configured_sources())
            self._refresh_sources()
            return int(self.writes.indexer.drop(root, self._connectors))

        return int(self._on_writer(job))

    def reindex(self, paths: Sequence[str] = ()) -> int:
        """Queue ``paths`` (or everything, with a full scan) for the writer; returns the request's number."""
        if paths:
            return self.queue.add(resolve_paths(paths))
        return self.queue.request_full_scan()

    # -- the read side (Backend) ---------------------------------------------------------------
    @property
    def reads(self) -> Container | None:
        """The answer path's container (None until started)."""
        return self.read_side.container

    @property
    def _ask_lock(self) -> threading.Lock:
        return self.read_side.ask_lock

    def search(self, query: str, k: int, mode: Mode, scope: Scope | None = None) -> list[Hit]:
        return self.read_side.search(query, k, mode, scope)

    def ask(self, question: str, on_token: OnToken | None = None, options: AskOptions | None = None) -> Answer:
        return self.read_side.ask(question, on_token, options)

    def files(self, under: str | None, status: str | None, contains: str | None, limit: int,
              offset: int) -> dict[str, Any]:
        return self.read_side.files(under, status, contains, limit, offset)

    def history(self, search: str | None, limit: int, conversation: str | None = None) -> list[dict[str, Any]]:
        return self.read_side.history(search, limit, conversation)

    def forget(self, entry_id: int) -> bool:
        return self.read_side.forget(entry_id)

    def open_file(self, path: str) -> None:
        self.read_side.open_file(path)

    def document(self, path: str) -> dict[str, Any]:
        return self.read_side.document(path)

    def context(self, path: str, doc_key: str, page: int | None, line_start: int | None, line_end: int | None,
                around: int, *, sheet: str | None = None, slide: int | None = None) -> list[dict[str, Any]]:
        return self.read_side.context(path, doc_key, page, line_start, line_end, around, sheet=sheet, slide=slide)

    def model_name(self) -> str:
        return MODEL_NAME

    def status(self) -> dict[str, Any]:
        # the writer's progress first: the counts read after it hold at least every request it calls done
        indexing = self.writer.snapshot()
        catalog = self.read_side.catalog()
        try:
            records, counts, model = catalog.problems(), catalog.counts(), catalog.get_meta("model_id")
        except sqlite3.DatabaseError as exc:  # never claim files that the catalog cannot serve
            if not is_corruption(exc):
                raise
            self.repairs.noticed("catalog", exc)
            records, counts, model = [], Catalog.EMPTY_COUNTS, None
        full = indexing["out_of_space"]
        first = [  # what stops or endangers the whole index first, then the folders that cannot be read
            *([{"path": full["path"], "status": "out_of_space", "reason": full["message"]}] if full else []),
            *self.repairs.problems(),
            *({"path": p, "status": "unreadable", "reason": why} for p, why in self.unreadable.snapshot().items())]
        problems = first[:STATUS_PROBLEMS] + [r.problem() for r in records[: max(0, STATUS_PROBLEMS - len(first))]]
        return {
            **counts,
            "model": model,
            "sources": self.roots(),
            "unwatched": self.watcher.problems,
            "indexing": indexing,
            "paused": self.writer.paused,
            "problems": problems,
            "problems_total": len(first) + len(records),
            "data_dir": str(self.config.data_dir),
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 1),
        }

    def sources(self) -> list[SourceInfo]:
        catalog = self.read_side.catalog()
        configured = self.writes.configured_sources()
        unwatched = self.watcher.problems
        return [SourceInfo(root, os.path.exists(root), len(catalog.files_under(root)), root in configured,
                           root not in unwatched, unwatched.get(root)) for root in self.roots()]

    def repair(self) -> dict[str, Any]:
        """Check every store on the writer thread and rebuild what is damaged; then a scan re-indexes what the
        rebuilt catalog lacks. Returns the repairs and the scan's request number (see ``status``)."""
        repairs = self._on_writer(self.repairs.repair, timeout=600)
        return {"repairs": [r.to_json() for r in repairs], "request": self.queue.request_full_scan()}

    def verify(self) -> list[str]:
        """Checked on the writer thread, so no batch is half written while it looks."""
        return list(self._on_writer(lambda: verify(self.writes.catalog, self.writes.vectors), timeout=600))

    def pause(self) -> None:
        self.writer.pause()

    def resume(self) -> None:
        self.writer.resume()

