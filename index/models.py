"""Plain data that flows through the index: parsed documents, chunks and search hits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

Mode = Literal["hybrid", "dense", "lexical"]  # how a search ranks: both sides fused, vectors only, terms only
MODES: tuple[Mode, ...] = get_args(Mode)
RECENT_FAILURES = 20  # failures a running total keeps (each run's own are all kept)


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
    kind: str = "text"  # "heading", "text", "code", "table", "row", "notes", ...
    sheet: str | None = None  # a spreadsheet's sheet; its lines are then the sheet's rows
    slide: int | None = None  # 1-based slide of a presentation
    ocr: bool = False  # the text was read from an image by OCR

    def is_at(self, page: int | None = None, sheet: str | None = None, slide: int | None = None) -> bool:
        """On this page, sheet and slide, each where given (a citation's place, the passage view's)."""
        return ((page is None or self.page == page) and (sheet is None or self.sheet == sheet)
                and (slide is None or self.slide == slide))


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
    sheet: str | None = None
    slide: int | None = None
    ocr: bool = False


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
    sheet: str | None = None
    slide: int | None = None
    ocr: bool = False

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "page": self.page,
            "line_start": self.line_start,
            "line_end": self.line_end,
            "sheet": self.sheet,
            "slide": self.slide,
            "ocr": self.ocr,
            "score": self.score,
            "text": self.text,
            "heading": list(self.heading),
            "title": self.title,
            "doc_key": self.doc_key,
            "chunk_id": self.chunk_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Hit:
        """The hit ``to_json`` made (the daemon's answer, read back by its clients)."""
        return cls(chunk_id=str(data.get("chunk_id", "")), path=data["path"], text=data["text"],
                   score=float(data["score"]), page=data.get("page"), line_start=data.get("line_start"),
                   line_end=data.get("line_end"), heading=tuple(data.get("heading") or ()), title=data.get("title"),
                   doc_key=str(data.get("doc_key") or ""), sheet=data.get("sheet"), slide=data.get("slide"),
                   ocr=bool(data.get("ocr")))


@dataclass
class IndexStats:
    files_indexed: int = 0
    files_unchanged: int = 0
    files_failed: int = 0
    files_skipped: int = 0
    files_removed: int = 0
    chunks_embedded: int = 0  # chunks that needed the model (the rest came from the cache)
    vectors_embedded: int = 0  # sentence vectors computed
    chunks_written: int = 0
    vectors_repaired: int = 0
    seconds: float = 0.0
    failures: list[dict[str, str]] = field(default_factory=list)  # {"path", "status": "failed", "reason"}

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    def counts(self) -> dict[str, float]:
        """The numbers alone (what a running total keeps)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "failures"}

    def add(self, other: IndexStats) -> None:
        """Count ``other``'s run into this one (a running total over batches)."""
        for key, value in other.counts().items():
            setattr(self, key, getattr(self, key) + value)
        self.failures = (self.failures + other.failures)[-RECENT_FAILURES:]

    @classmethod
    def between(cls, before: dict[str, float], after: dict[str, float],
                failures: Sequence[dict[str, str]] = ()) -> IndexStats:
        """The run between two running totals (``counts()``), e.g. what a daemon did for one request."""
        run = cls(failures=list(failures))
        for key in run.counts():
            change = after.get(key, 0) - before.get(key, 0)
            setattr(run, key, round(change, 3) if key == "seconds" else int(change))
        return run
