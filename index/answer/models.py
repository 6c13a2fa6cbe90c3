"""What an answer is made of: the sources given to the model, verified citations, timings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ragd.index.answer.followup import Turn
from ragd.index.models import Hit
from ragd.index.scope import Scope


@dataclass(frozen=True)
class Source:
    """A passage shown to the model as ``[n]``."""

    n: int
    hit: Hit


@dataclass(frozen=True)
class Citation:
    """A claim's support: a quote that occurs verbatim (whitespace aside) in ``path`` at this place."""

    n: int  # the source number it came from
    path: str
    page: int | None
    line_start: int | None
    line_end: int | None
    quote: str
    claim: str = ""  # the sentence of the answer it supports
    title: str | None = None  # the document's title (a message's subject)
    sheet: str | None = None  # a spreadsheet's sheet: the lines are its rows
    slide: int | None = None
    ocr: bool = False  # the quote is in text read from an image by OCR

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "path": self.path, "title": self.title, "page": self.page, "line_start": self.line_start,
                "line_end": self.line_end, "sheet": self.sheet, "slide": self.slide, "ocr": self.ocr,
                "quote": self.quote}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Citation:
        return cls(n=int(data["n"]), path=data["path"], page=data.get("page"), line_start=data.get("line_start"),
                   line_end=data.get("line_end"), quote=data["quote"], title=data.get("title"),
                   sheet=data.get("sheet"), slide=data.get("slide"), ocr=bool(data.get("ocr")))


@dataclass(frozen=True)
class Sentence:
    """One sentence of the answer and what in the files bears it out (``support.judge``)."""

    start: int  # its place in ``Answer.answer``
    end: int
    text: str  # without its [n] markers
    support: str  # "supported", "partly" or "unsupported"
    citations: tuple[int, ...] = ()  # indices into ``Answer.citations``
    missing: tuple[str, ...] = ()  # its numbers, names or negation that the cited source lacks

    def to_json(self) -> dict[str, Any]:
        return {"start": self.start, "end": self.end, "text": self.text, "support": self.support,
                "citations": list(self.citations), "missing": list(self.missing)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sentence:
        return cls(start=int(data["start"]), end=int(data["end"]), text=data["text"], support=data["support"],
                   citations=tuple(data.get("citations") or ()), missing=tuple(data.get("missing") or ()))


@dataclass(frozen=True)
class AskOptions:
    """What a question carries besides its text: the files it may draw on, and the conversation it belongs to."""

    scope: Scope = field(default_factory=Scope)
    conversation: str | None = None  # the conversation's id (its earlier turns are in the history)
    turns: tuple[Turn, ...] = ()  # the earlier turns, oldest first


@dataclass
class Answer:
    question: str
    answer: str
    grounded: bool
    citations: list[Citation] = field(default_factory=list)
    nearest: list[Hit] = field(default_factory=list)  # shown when the files do not hold the answer
    model: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # seconds: retrieve, first_token, generate, cite, total
    sentences: list[Sentence] = field(default_factory=list)  # the answer's claims, each with its verdict
    left_out: list[str] = field(default_factory=list)  # unsupported sentences removed ([answer] unsupported = "drop")
    searched: str = ""  # what was searched: the question, or its standalone form in a conversation
    conversation: str | None = None
    scope: Scope = field(default_factory=Scope)
    notice: str | None = None  # a word for the reader about what wrote it (the tiny demo model: see model_notice)

    @property
    def supported_share(self) -> float | None:
        """The share of the answer's claims (by characters) that are supported; None when it makes none."""
        total = sum(len(s.text) for s in self.sentences) + sum(len(t) for t in self.left_out)
        if not total:
            return None
        return round(sum(len(s.text) for s in self.sentences if s.support == "supported") / total, 4)

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "grounded": self.grounded,
            "supported_share": self.supported_share,
            "sentences": [s.to_json() for s in self.sentences],
            "left_out": list(self.left_out),
            "citations": [c.to_json() for c in self.citations],
            "nearest": [h.to_json() for h in self.nearest],
            "model": self.model,
            "notice": self.notice,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "searched": self.searched or self.question,
            "conversation": self.conversation,
            "scope": self.scope.to_json() if self.scope else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Answer:
        """The answer ``to_json`` made (the daemon's, read back by the CLI and the tray)."""
        return cls(question=data["question"], answer=data["answer"], grounded=bool(data["grounded"]),
                   citations=[Citation.from_json(c) for c in data.get("citations") or ()],
                   nearest=[Hit.from_json(h) for h in data.get("nearest") or ()], model=str(data.get("model") or ""),
                   timings=dict(data.get("timings") or {}),
                   sentences=[Sentence.from_json(s) for s in data.get("sentences") or ()],
                   left_out=list(data.get("left_out") or ()), searched=str(data.get("searched") or ""),
                   conversation=data.get("conversation"), scope=Scope.from_json(data.get("scope")),
                   notice=data.get("notice"))
