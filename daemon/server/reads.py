"""The daemon's read half: searches, questions, documents and the history, for the API's request threads.

Each request thread reads through its own read-only catalog connection (made anew after a repair replaced the
file); questions are answered one at a time (one model in memory); a damaged catalog met here is reported, for
the writer to repair, and answered as a 503.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from ragd.connectors import Connector
from ragd.daemon.config import Config
from ragd.daemon.container import Container
from ragd.daemon.server.api import NotIndexed, OnToken
from ragd.daemon.server.desktop import open_with_desktop
from ragd.daemon.server.repairs import StoreRepairs
from ragd.index.answer.context import passage_context
from ragd.index.answer.history import History
from ragd.index.answer.models import Answer, AskOptions
from ragd.index.embed import Embedder
from ragd.index.errors import NothingIndexed, SourceError
from ragd.index.models import Hit, Mode
from ragd.index.retrieve import Retriever
from ragd.index.scope import Scope
from ragd.index.store.catalog import Catalog
from ragd.index.store.health import IndexDamaged, is_corruption


class ReadSide:
    def __init__(self, config: Config, env: Mapping[str, str], writes: Container, embedder: Embedder,
                 repairs: StoreRepairs, connectors: Callable[[], list[Connector]]) -> None:
        self.config = config
        self.env = env
        self.writes = writes  # its vector store, history path and configured sources are shared, never written here
        self.embedder = embedder
        self.repairs = repairs
        self.connectors = connectors
        self.container: Container | None = None  # the answer path's parts (model, verifier), made by open()
        self._local = threading.local()
        self.ask_lock = threading.Lock()
        self.answers = 0  # questions answered (idle housekeeping trims memory after new activity)
        self._parse_lock = threading.Lock()  # the answer path's parser pool serves one call at a time

    def open(self) -> None:
        self.container = Container(self.config, readonly=True, embedder_override=self.embedder,
                                   vectors_override=self.writes.vectors, llm_override=self.writes.llm_override,
                                   env=self.env)

    def close(self) -> None:
        if self.container is not None:
            self.container.close()

    def catalog(self) -> Catalog:
        """This thread's read-only connection (made anew after a repair replaced the file)."""
        catalog: Catalog | None = getattr(self._local, "catalog", None)
        generation = self.repairs.generation
        if catalog is not None and getattr(self._local, "generation", 0) != generation:
            catalog.close()
            catalog = None
        if catalog is None:
            catalog = Catalog(self.config.catalog_path, readonly=True)
            self._local.catalog, self._local.generation = catalog, generation
        if self.container is not None and self.container.catalog_generation != generation:
            self.container.reopen_catalog(generation)
        return catalog

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A damaged catalog met by a reader: reported (the writer repairs it) and answered as a 503."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if not is_corruption(exc):
                raise
            self.repairs.noticed("catalog", exc)
            raise IndexDamaged(f"the index is damaged ({exc}); ragd is rebuilding it from your files, "
                               "try again in a moment (`ragd status` shows the progress)") from None

    def search(self, query: str, k: int, mode: Mode, scope: Scope | None = None) -> list[Hit]:
        with self.reading():
            retriever = Retriever(self.catalog(), self.writes.vectors, self.embedder,
                                  on_vector_error=lambda exc: self.repairs.noticed("vector store", exc))
            return retriever.search(query, k, mode, scope)

    def ask(self, question: str, on_token: OnToken | None = None, options: AskOptions | None = None) -> Answer:
        assert self.container is not None, "the runtime is not started"
        with self.reading():
            if not self.catalog().counts()["chunks"]:
                raise NothingIndexed("nothing is indexed yet: add a folder first")
        with self.ask_lock:
            with self._parse_lock, self.reading():
                answer = self.container.asker.ask(question, on_token, self.container.options(options))
            self.answers += 1
            self.container.remember(answer)
        return answer

    def files(self, under: str | None, status: str | None, contains: str | None, limit: int,
              offset: int) -> dict[str, Any]:
        with self.reading():
            total, records = self.catalog().list_files(under=under, status=status, contains=contains,
                                                         limit=limit, offset=offset)
        return {"total": total, "files": [r.to_json() for r in records]}

    def history(self, search: str | None, limit: int, conversation: str | None = None) -> list[dict[str, Any]]:
        with History(self.writes.history_path, readonly=True) as history:
            entries = history.conversation(conversation, limit) if conversation else history.recent(limit, search)
            return [e.to_json() for e in entries]

    def forget(self, entry_id: int) -> bool:
        with History(self.writes.history_path) as history:
            return history.delete(entry_id)

    def open_file(self, path: str) -> None:
        with self.reading():
            record = self.catalog().file(path)
        owner = self._owner_if_still_taken(path) if record is not None and record.status == "indexed" else None
        if owner is None:
            raise NotIndexed(path)
        local = owner.local_path(path)
        if local is None:
            raise SourceError(f"{path} is not a file on this machine: read it in the passage view")
        open_with_desktop(local, self.env)

    def _owner_if_still_taken(self, path: str) -> Connector | None:
        """The connector of ``path`` if it still takes the item as it is: not a file replaced by a link out of the
        sources since it was indexed (the index learns of that at the next event; the API must not wait for it)."""
        owner = next((c for c in self.connectors() if c.covers(path)), None)
        entry = owner.entry(path) if owner is not None else None
        return owner if entry is not None and entry.path == path and entry.skip_reason is None else None

    def document(self, path: str) -> dict[str, Any]:
        with self.reading():
            record = self.catalog().file(path)
        if record is None:
            raise NotIndexed(path)
        return record.to_json()

    def context(self, path: str, doc_key: str, page: int | None, line_start: int | None, line_end: int | None,
                around: int, *, sheet: str | None = None, slide: int | None = None) -> list[dict[str, Any]]:
        with self.reading():
            record = self.catalog().file(path)
        if record is None or record.status != "indexed" or self._owner_if_still_taken(path) is None:
            raise NotIndexed(path)  # only what the user chose to index is ever read
        assert self.container is not None, "the runtime is not started"
        with self._parse_lock:
            docs = self.container.verifier.documents(path)
        return [line.to_json() for line in passage_context(docs, doc_key, page, line_start, line_end, around,
                                                         sheet=sheet, slide=slide)]
