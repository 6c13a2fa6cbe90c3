"""The running daemon's parts and their lifetime: writer, watcher, scheduler, and the read side.

The writer side (one ``Container``, one thread) owns the index: it holds the writer lock for
the daemon's lifetime. Requests read through a read-only side that shares the embedding model
and the vector store with it; each request thread gets its own read-only catalog connection.
Questions are answered one at a time (one model in memory).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from ragd.connectors import Connector
from ragd.daemon.api import Mode, NotIndexed, OnToken
from ragd.daemon.changes import Batch, ChangeQueue
from ragd.daemon.config import Config
from ragd.daemon.container import Container
from ragd.daemon.desktop import open_with_desktop
from ragd.daemon.memory import release_freed_memory
from ragd.daemon.server_settings import ServerSettings, load_server_settings
from ragd.daemon.watcher import Watcher
from ragd.daemon.writer import IndexWriter
from ragd.index import embed
from ragd.index.answer.context import passage_context
from ragd.index.answer.history import History
from ragd.index.answer.models import Answer
from ragd.index.embed import Embedder, Kind, Vectors
from ragd.index.errors import RagdError, SourceError
from ragd.index.isolate import ParsePool
from ragd.index.llm.base import LLM
from ragd.index.lock import WriterLock
from ragd.index.models import Hit
from ragd.index.pipeline import Indexer, IndexStats, resolve_paths, verify
from ragd.index.retrieve import Retriever
from ragd.index.store.catalog import Catalog
from ragd.index.store.vectors import VectorStore

log = logging.getLogger(__name__)

MODEL_NAME = "ragd"
HOUSEKEEPING_S = 30  # how often idle housekeeping runs (LLM unload, returning freed memory)
STATUS_PROBLEMS = 200  # problems listed in /v1/status (problems_total counts them all)


class SharedEmbedder:
    """One embedding model for the writer and the request threads, one call at a time.

    Passages are embedded in slices, so a query waits for at most one slice of a large batch.
    """

    def __init__(self, inner: Embedder, slice_size: int = 32) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens
        # part of the index signature (Indexer.signature): the daemon must sign its index as `ragd index` does
        self.token_count_revision: int | None = getattr(inner, "token_count_revision", None)
        self.slice_size = slice_size
        self._lock = threading.Lock()

    def embed_batch(self, texts: Sequence[str], kind: Kind = "passage") -> Vectors:
        items = list(texts)
        if len(items) <= self.slice_size:
            with self._lock:
                return self.inner.embed_batch(items, kind)
        import numpy as np

        parts = []
        for i in range(0, len(items), self.slice_size):
            with self._lock:
                parts.append(self.inner.embed_batch(items[i : i + self.slice_size], kind))
        return np.concatenate(parts)

    def count_tokens(self, text: str) -> int:
        with self._lock:
            return self.inner.count_tokens(text)


class Runtime:
    """Implements the API's ``Backend`` over a live index."""

    def __init__(self, config: Config, env: Mapping[str, str], *, settings: ServerSettings | None = None,
                 embedder: Embedder | None = None, vectors: VectorStore | None = None, llm: LLM | None = None,
                 on_batch: Callable[[Batch, IndexStats | None], None] | None = None) -> None:
        """``embedder``, ``vectors`` and ``llm`` replace the configured ones (tests pass fakes here)."""
        self.config = config
        self.env = env
        self.settings = settings or load_server_settings(config.extra, env)
        self.started_at = time.time()
        self.lock = WriterLock(config.lock_path)
        self.embedder = SharedEmbedder(embedder or embed.create(config.embedder))
        self.writes = Container(config, embedder_override=self.embedder, vectors_override=vectors,
                                llm_override=llm, env=env)
        self.queue = ChangeQueue(self.settings.debounce_s, self.settings.max_wait_s)
        self._pool: ParsePool | None = None
        self.writer = IndexWriter(self._indexer(), self.connectors, self.queue, on_batch)
        self.watcher = Watcher(self.queue.add, ignore=self._ignored, on_overflow=self._events_lost)
        self.scheduler = BackgroundScheduler(daemon=True)
        self.reads: Container | None = None
        self._local = threading.local()
        self._ask_lock = threading.Lock()
        self._answers = 0  # questions answered (idle housekeeping trims memory after new activity)
        self._trimmed_after: tuple[int, int] | None = None
        self._parse_lock = threading.Lock()  # the answer path's parser pool serves one call at a time
        self._connectors: list[Connector] = []
        self._roots: list[str] = []
        self._locked = False
        self._stopped = False

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
            self.reads = Container(self.config, readonly=True, embedder_override=self.embedder,
                                   vectors_override=self.writes.vectors, llm_override=self.writes.llm_override,
                                   env=self.env)
            self._refresh_sources()
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
        self.writer.stop()
        if self._pool is not None:
            self._pool.close()
        if self.reads is not None:
            self.reads.close()
        self.writes.close()
        self._release()

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
        """A full scan through the writer, and a retry of folders that could not be watched."""
        self.watcher.watch(self.roots())
        self.queue.request_full_scan()

    def _events_lost(self) -> None:
        """The kernel dropped file events: scan now rather than at the next period (repeats coalesce)."""
        log.warning("file events were lost (the kernel's event queue overflowed); scanning the sources")
        self.queue.request_full_scan()

    def _idle_housekeeping(self) -> None:
        """Unload an idle LLM; once nothing is being indexed or answered, return freed memory to the OS."""
        if self.reads is not None and "llm" in self.reads.__dict__:
            unload = getattr(self.reads.llm, "unload_if_idle", None)
            if callable(unload) and unload():
                log.info("the model was idle; unloaded it")
                self._trimmed_after = None
        activity = (self.queue.done_through(), self._answers)
        quiet = self.writer.snapshot()["state"] == "idle" and not self._ask_lock.locked()
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

    def _shared_pool(self) -> nullcontext[ParsePool]:
        """One parse pool kept for the daemon's life (starting workers per change would add latency)."""
        if self._pool is None:
            self._pool = self.writes.parse_pool()
        return nullcontext(self._pool)

    def connectors(self) -> list[Connector]:
        return list(self._connectors)

    def roots(self) -> list[str]:
        """The source folders (and files) being watched."""
        return list(self._roots)

    def _refresh_sources(self) -> None:
        """Rebuild the connectors from the config and the catalog; watch exactly those folders."""
        self._roots = self.writes.source_paths()
        self._connectors = [self.writes.connector(p) for p in self._roots]
        self.watcher.watch(self._roots)

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
        if not os.path.exists(root):
            raise SourceError(f"no such file or directory: {root}")

        def job() -> bool:
            added = self.writes.catalog.add_source(root)
            self._refresh_sources()
            return added

        added: bool = self._on_writer(job)
        return added, self.queue.add([root])

    def remove_source(self, path: str) -> int:
        """Stop watching a folder and drop its files from the index; returns how many were dropped."""
        root = resolve_paths([path])[0]

        def job() -> int:
            if not self.writes.catalog.remove_source(root):
                configured = {str(Path(p).expanduser().resolve()) for p in self.config.sources}
                if root in configured:
                    raise SourceError(f"{root} is listed in the config file; remove it there")
                raise SourceError(f"not a source: {root}")
            self._refresh_sources()
            return int(self.writes.indexer.drop(root, self._connectors))

        return int(self._on_writer(job))

    def reindex(self, paths: Sequence[str] = ()) -> int:
        """Queue ``paths`` (or everything, with a full scan) for the writer; returns the request's number."""
        if paths:
            return self.queue.add(resolve_paths(paths))
        return self.queue.request_full_scan()

    # -- the read side (Backend) ---------------------------------------------------------------
    def _catalog(self) -> Catalog:
        catalog: Catalog | None = getattr(self._local, "catalog", None)
        if catalog is None:
            catalog = Catalog(self.config.catalog_path, readonly=True)
            self._local.catalog = catalog
        return catalog

    def search(self, query: str, k: int, mode: Mode) -> list[Hit]:
        return Retriever(self._catalog(), self.writes.vectors, self.embedder).search(query, k, mode)

    def ask(self, question: str, on_token: OnToken | None = None) -> Answer:
        assert self.reads is not None, "the runtime is not started"
        if not self._catalog().counts()["chunks"]:
            raise SourceError("nothing is indexed yet: add a folder first")
        with self._ask_lock:
            with self._parse_lock:
                answer = self.reads.asker.ask(question, on_token=on_token)
            self._answers += 1
            self.reads.remember(answer)
        return answer

    def model_name(self) -> str:
        return MODEL_NAME

    def status(self) -> dict[str, Any]:
        catalog = self._catalog()
        records = catalog.problems()
        problems = [{"path": r.path, "status": r.status, "reason": r.error} for r in records[:STATUS_PROBLEMS]]
        return {
            **catalog.counts(),
            "model": catalog.get_meta("model_id"),
            "sources": self.roots(),
            "unwatched": self.watcher.problems,
            "indexing": self.writer.snapshot(),
            "paused": self.writer.paused,
            "problems": problems,
            "problems_total": len(records),
            "data_dir": str(self.config.data_dir),
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 1),
        }

    def files(self, under: str | None, status: str | None, contains: str | None, limit: int,
              offset: int) -> dict[str, Any]:
        total, records = self._catalog().list_files(under=under, status=status, contains=contains, limit=limit,
                                                     offset=offset)
        return {"total": total, "files": [{"path": r.path, "status": r.status, "error": r.error, "size": r.size,
                                           "chunks": r.chunk_count, "indexed_at": r.indexed_at} for r in records]}

    def history(self, search: str | None, limit: int) -> list[dict[str, Any]]:
        with History(self.writes.history_path, readonly=True) as history:
            return [e.to_json() for e in history.recent(limit, search)]

    def forget(self, entry_id: int) -> bool:
        with History(self.writes.history_path) as history:
            return history.delete(entry_id)

    def open_file(self, path: str) -> None:
        record = self._catalog().file(path)
        if record is None or record.status != "indexed" or not os.path.isfile(path):
            raise NotIndexed(path)
        open_with_desktop(path, self.env)

    def sources(self) -> list[dict[str, Any]]:
        catalog = self._catalog()
        configured = {str(Path(p).expanduser().resolve()) for p in self.config.sources}
        unwatched = self.watcher.problems
        return [{"path": root, "exists": os.path.exists(root), "files": len(catalog.files_under(root)),
                 "from_config": root in configured, "watched": root not in unwatched,
                 "problem": unwatched.get(root)} for root in self.roots()]

    def verify(self) -> list[str]:
        """Checked on the writer thread, so no batch is half written while it looks."""
        return list(self._on_writer(lambda: verify(self.writes.catalog, self.writes.vectors), timeout=600))

    def pause(self) -> None:
        self.writer.pause()

    def resume(self) -> None:
        self.writer.resume()

    def document(self, path: str) -> dict[str, Any]:
        record = self._catalog().file(path)
        if record is None:
            raise NotIndexed(path)
        return {"path": record.path, "status": record.status, "error": record.error, "size": record.size,
                "chunks": record.chunk_count, "indexed_at": record.indexed_at}

    def context(self, path: str, doc_key: str, page: int | None, line_start: int | None, line_end: int | None,
                around: int) -> list[dict[str, Any]]:
        record = self._catalog().file(path)
        if record is None or record.status != "indexed":
            raise NotIndexed(path)  # only what the user chose to index is ever read
        assert self.reads is not None, "the runtime is not started"
        with self._parse_lock:
            docs = self.reads.verifier.documents(path)
        return [line.to_json() for line in passage_context(docs, doc_key, page, line_start, line_end, around)]
