"""Plain data that flows through the index: parsed documents, chunks and search hits."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Part:
    """One piece of a document's text with the place it came from.

    ``text`` keeps the source's line breaks so that a chunker can map a span of
    it back to source lines: line ``line_start`` is the first line of ``text``.
    """

    text: str
    page: int | None = None  # 1-based page (PDF) or None
    line_start: int | None = None  # 1-based first source line, where lines mean something
    line_end: int | None = None  # 1-based last source line, inclusive
    heading: tuple[str, ...] = ()  # heading path, outermost first
    kind: str = "text"  # "heading", "text", "code", "table", ...


@dataclass
class Document:
    """What a parser makes of one file, or of one message of a mailbox."""

    parts: list[Part]
    title: str | None = None
    key: str = ""  # distinguishes several documents in one file (mbox message number)
    meta: dict[str, str] = field(default_factory=dict)  # subject, sender, date, author ...


@dataclass(frozen=True)
class Chunk:
    """A retrievable unit of text with its location."""

    text: str
    doc_key: str = ""
    title: str | None = None
    page: int | None = None
    line_start: int | None = None
    line_end: int | None = None
    heading: tuple[str, ...] = ()
    ordinal: int = 0  # position of the chunk in its file


@dataclass(frozen=True)
class Hit:
    """A search result."""

    chunk_id: str
    path: str
    text: str
    score: float
    page: int | None
    line_start: int | None
    line_end: int | None
    heading: tuple[str, ...] = ()
    title: str | None = None
    doc_key: str = ""
    dense: float | None = None  # best sentence's similarity to the query (dense and hybrid modes)

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "page": self.page,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "score": self.score,
            "text": self.text,
            "heading": list(self.heading),
            "title": self.title,
            "doc_key": self.doc_key,
            "chunk_id": self.chunk_id,
        }
