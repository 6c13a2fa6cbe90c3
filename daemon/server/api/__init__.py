"""The daemon's HTTP API. Routes are thin: validate, call the ``Backend``, map errors to HTTP.

``Backend`` is the one seam the routes (REST, OpenAI-compatible, MCP) see; the daemon's runtime
implements it, and tests may pass a fake through the same seam.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ragd.daemon.service.records import SourceInfo
from ragd.index.answer.models import Answer, AskOptions
from ragd.index.models import Hit, Mode
from ragd.index.scope import Scope

OnToken = Callable[[str], None]


class Backend(Protocol):
    def search(self, query: str, k: int, mode: Mode, scope: Scope | None = None) -> list[Hit]:
        """Hits for ``query``, best first, from the files in ``scope`` (thread-safe)."""
        ...

    def ask(self, question: str, on_token: OnToken | None = None, options: AskOptions | None = None) -> Answer:
        """Answer ``question`` from the index (within ``options``' scope, in its conversation), streaming the
        model's text to ``on_token``.

        Raises ``ragd.index.errors.RagdError`` for a user error (nothing indexed, the model
        cannot be loaded); callers turn it into a 4xx/5xx with the message.
        """
        ...

    def model_name(self) -> str:
        """The name under which ragd presents itself as a model (``/v1/models``)."""
        ...

    def status(self) -> dict[str, Any]:
        """Counts, indexing progress and problems (the body of ``GET /v1/status``)."""
        ...


class DaemonBackend(Backend, Protocol):
    """What the REST routes need beyond questions: the sources, the writer, the documents."""

    def sources(self) -> list[SourceInfo]: ...
    def add_source(self, path: str) -> tuple[bool, int]:
        """Whether the folder is new, and the number of the indexing request (see ``status``)."""
        ...

    def remove_source(self, path: str) -> int: ...

    def reindex(self, paths: list[str]) -> int:
        """Queue paths (or everything); returns the request's number: it is written when the status's
        ``indexing.done_through`` reaches it."""
        ...

    def verify(self) -> list[str]:
        """Damage, and differences between the manifest, the lexical index, the vector store and the disk."""
        ...

    def repair(self) -> dict[str, Any]:
        """Check the stores and rebuild a damaged one: ``{"repairs": [...], "request": n}`` (the re-index is
        written when ``status``'s ``indexing.done_through`` reaches ``request``)."""
        ...

    def pause(self) -> None: ...
    def resume(self) -> None: ...

    def document(self, path: str) -> dict[str, Any]:
        """The manifest record of an indexed file; raises ``NotIndexed`` for any other path."""
        ...

    def context(self, path: str, doc_key: str, page: int | None, line_start: int | None, line_end: int | None,
                around: int, *, sheet: str | None = None, slide: int | None = None) -> list[dict[str, Any]]:
        """Lines around a passage of an indexed file; raises ``NotIndexed`` for any other path."""
        ...

    def files(self, under: str | None, status: str | None, contains: str | None, limit: int,
              offset: int) -> dict[str, Any]:
        """``{"total", "files": [...]}``: one page of the manifest."""
        ...

    def history(self, search: str | None, limit: int, conversation: str | None = None) -> list[dict[str, Any]]:
        """Newest first; with ``conversation``, that conversation's entries, oldest first."""
        ...

    def forget(self, entry_id: int) -> bool:
        """Delete one history entry; False if there is none with that id."""
        ...

    def open_file(self, path: str) -> None:
        """Open an indexed file with the desktop's own application; ``NotIndexed`` for any other path."""
        ...


class NotIndexed(Exception):
    """The path is not an indexed file: the API never reads it (no traversal through /v1/documents)."""
