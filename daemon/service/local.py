"""The application interface worked in this process, over a ``Container``, when no daemon is running.

Reads share one read-only container for the life of the service (``ragd search -`` answers many queries
with one model load); each write opens a writable one under the writer lock, and lets both go when done.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ragd.daemon.config import Config
from ragd.daemon.container import Container
from ragd.daemon.service import NOTHING_TO_INDEX, OnToken, Progress
from ragd.daemon.service.records import RepairReport, SourceInfo
from ragd.index.answer.models import Answer, AskOptions
from ragd.index.errors import NothingIndexed, RagdError, SourceError
from ragd.index.lock import WriterLock
from ragd.index.models import Hit, IndexStats, Mode
from ragd.index.paths import resolve_paths
from ragd.index.scope import Scope
from ragd.index.store.consistency import verify
from ragd.index.store.health import CHECKED_NAME, IndexDamaged

NO_DAEMON = "the daemon is not running: start it with `ragd serve` (or `ragd service install`)"


def not_a_source(root: str, configured: set[str]) -> SourceError:
    if root in configured:
        return SourceError(f"{root} is listed in the config file; remove it there")
    return SourceError(f"not a source: {root}")


class LocalService:
    url: str | None = None

    def __init__(self, config: Config) -> None:
        self.config = config
        self._reads: Container | None = None

    def close(self) -> None:
        if self._reads is not None:
            self._reads.close()
            self._reads = None

    def _reader(self) -> Container:
        if self._reads is None:
            self._reads = Container(self.config, readonly=True)
        return self._reads

    @contextmanager
    def _writing(self) -> Iterator[Container]:
        self.close()  # what a write changes, a reader opened before would not see
        container = Container(self.config)
        try:
            with WriterLock(self.config.lock_path):
                yield container
        finally:
            container.close()

    # -- writes ------------------------------------------------------------------------------
    def index(self, roots: Sequence[str], progress: Progress | None = None) -> IndexStats:
        with self._writing() as c:
            for root in roots:
                c.catalog.add_source(root, c.probe(root))
            targets = list(roots) or c.source_paths()
            if not targets:
                raise SourceError(NOTHING_TO_INDEX)
            connectors = [c.connector(r) for r in targets]
            try:
                return c.indexer.run(connectors, prune_outside=not roots, progress=progress)
            finally:
                for connector in connectors:
                    connector.close()

    def remove_source(self, path: str) -> int:
        root = resolve_paths([path])[0]
        with self._writing() as c:
            if not c.catalog.remove_source(root):
                raise not_a_source(root, c.configured_sources())
            return c.indexer.run([c.connector(r) for r in c.source_paths()], prune_outside=True).files_removed

    def repair(self, progress: Progress | None = None) -> RepairReport:
        with self._writing() as c:
            (c.config.data_dir / CHECKED_NAME).unlink(missing_ok=True)  # probe the vector store afresh
            c.indexer.run([c.connector(r) for r in c.source_paths()], prune_outside=True, progress=progress)
            counts = c.catalog.counts()
            return RepairReport([r.to_json() for r in c.repairs], counts["indexed"], counts["failed"],
                                counts["chunks"])

    # -- reads -------------------------------------------------------------------------------
    def search(self, query: str, k: int, mode: Mode, scope: Scope | None = None) -> list[Hit]:
        return self._reader().retriever.search(query, k, mode, scope)

    def ask(self, question: str, on_token: OnToken | None = None, options: AskOptions | None = None) -> Answer:
        c = self._reader()
        if not c.catalog.counts()["chunks"]:
            raise NothingIndexed("nothing is indexed yet: `ragd index FOLDER` first")
        answer = c.asker.ask(question, on_token, c.options(options))
        c.remember(answer)
        return answer

    def sources(self) -> list[SourceInfo]:
        c = self._reader()
        configured = c.configured_sources()
        return [SourceInfo(root, os.path.exists(root), len(c.catalog.files_under(root)), root in configured,
                           watched=False) for root in c.source_paths()]

    def status(self) -> dict[str, Any]:
        c = self._reader()
        return {**c.catalog.counts(), "model": c.catalog.get_meta("model_id"),
                "problems": [r.problem() for r in c.catalog.problems()], "sources": c.source_paths(),
                "data_dir": str(self.config.data_dir), "daemon": None}

    def verify(self) -> list[str]:
        c = self._reader()
        try:
            return verify(c.catalog, c.vectors)
        except IndexDamaged as exc:
            return [str(exc)]

    def pause(self) -> None:
        raise RagdError(NO_DAEMON)

    def resume(self) -> None:
        raise RagdError(NO_DAEMON)

    def page_link(self, next_path: str) -> str:
        raise RagdError(NO_DAEMON)

    def notices(self) -> list[str]:
        c = self._reader()
        built_with = c.catalog.get_meta("model_id")
        if built_with and built_with != c.embedder.model_id:
            return [f"the index was built with {built_with}, the config asks for {c.embedder.model_id}; run "
                    "`ragd index` to re-embed (lexical results only until then)"]
        return []
