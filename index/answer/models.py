"""What an answer is made of: the sources given to the model, verified citations, timings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ragd.index.models import Hit


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

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "path": self.path, "page": self.page, "line_start": self.line_start,
                "line_end": self.line_end, "quote": self.quote}


@dataclass
class Answer:
    question: str
    answer: str
    grounded: bool
    citations: list[Citation] = field(default_factory=list)
    nearest: list[Hit] = field(default_factory=list)  # shown when the files do not hold the answer
    model: str = ""
    timings: dict[str, float] = field(default_factory=dict)  # seconds: retrieve, first_token, generate, cite, total

    def to_json(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.answer,
            "grounded": self.grounded,
            "citations": [c.to_json() for c in self.citations],
            "nearest": [h.to_json() for h in self.nearest],
            "model": self.model,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }
