"""The application interface: what the CLI (and the tray, the benchmarks) ask of ragd, one way.

``Service`` is the same whether a daemon is running or not: ``RemoteService`` speaks to the running
daemon over its HTTP API, ``LocalService`` works in this process over a ``Container``. A command is written
once, against this interface; ``connect`` picks the implementation.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ragd.daemon.service.records import RepairReport, SourceInfo
from ragd.index.models import Mode

if TYPE_CHECKING:
    from ragd.daemon.config import Config
    from ragd.index.answer.models import Answer, AskOptions
    from ragd.index.models import Hit, IndexStats
    from ragd.index.scope import Scope

NOTHING_TO_INDEX = "nothing to index yet: give a folder, e.g. `ragd index ~/Documents`"
Progress = Callable[[int, int, str], None]  # files done, files in the run, the file in hand
OnToken = Callable[[str], None]

__all__ = ["Mode", "OnToken", "Progress", "RepairReport", "Service", "SourceInfo", "connect"]


class Service(Protocol):
    url: str | None  # the daemon's address, or None when the work is done in this process

    def index(self, roots: Sequence[str], progress: Progress | None = None) -> IndexStats:
        """Add ``roots`` as sources (each must exist) and bring the index up to date; with no roots, every
        source. Returns what this run did."""
        ...

    def search(self, query: str, k: int, mode: Mode, scope: Scope | None = None) -> list[Hit]:
        """The best ``k`` hits, from the files in ``scope`` when one is given."""
        ...

    def ask(self, question: str, on_token: OnToken | None = None, options: AskOptions | None = None) -> Answer:
        """The answer, its text streamed to ``on_token`` while the model writes; kept in the history. ``options``
        scope it to some files and place it in a conversation (a follow-up is searched in its standalone form)."""
        ...

    def sources(self) -> list[SourceInfo]: ...

    def remove_source(self, path: str) -> int:
        """Stop indexing ``path`` and drop its files; returns how many were dropped."""
        ...

    def status(self) -> dict[str, Any]:
        """Counts, the model, the sources and every file that failed or was skipped (``problems``); with a
        daemon, its indexing progress too (the body of ``GET /v1/status``)."""
        ...

    def verify(self) -> list[str]:
        """Differences between the manifest, the lexical index and the vector store (empty: they agree)."""
        ...

    def repair(self, progress: Progress | None = None) -> RepairReport: ...

    def pause(self) -> None:
        """Hold indexing (changes are still collected); the daemon only."""
        ...

    def resume(self) -> None: ...

    def page_link(self, next_path: str) -> str:
        """A one-time link that signs the browser in to the web page at ``next_path``; the daemon only."""
        ...

    def notices(self) -> list[str]:
        """What a person should know before trusting the results (an index built with another model)."""
        ...

    def close(self) -> None: ...


def connect(config: Config, env: Mapping[str, str] = os.environ) -> Service:
    """The running daemon if there is one (it is the only writer), else this process
    (``RAGD_NO_DAEMON=1`` works in this process regardless)."""
    from ragd.daemon.service.remote import RemoteService

    if env.get("RAGD_NO_DAEMON", "") in ("", "0"):
        remote = RemoteService.find(config)
        if remote is not None:
            return remote
    from ragd.daemon.service.local import LocalService

    return LocalService(config)
