"""The text around a cited passage, for showing a citation in context (``/v1/documents/context``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ragd.index.models import Document


@dataclass(frozen=True)
class Line:
    n: int | None  # the source line number, where lines mean something
    text: str
    cited: bool

    def to_json(self) -> dict[str, Any]:
        return {"n": self.n, "text": self.text, "cited": self.cited}


def passage_context(docs: Sequence[Document], doc_key: str, page: int | None, line_start: int | None,
                    line_end: int | None, around: int = 10, *, sheet: str | None = None,
                    slide: int | None = None) -> list[Line]:
    """The lines ``line_start..line_end`` of the document ``doc_key`` (on ``page``, ``sheet`` or ``slide``; a
    sheet's lines are its rows), with ``around``
    lines before and after; ``cited`` marks the lines of the span. Without line numbers, the
    parts of that page are returned whole, none marked."""
    lines: dict[int, str] = {}
    unnumbered: list[str] = []
    for doc in docs:
        if doc.key != doc_key:
            continue
        for part in doc.parts:
            if not part.is_at(page, sheet, slide):
                continue
            if part.line_start is None:
                unnumbered.append(part.text)
                continue
            for i, text in enumerate(part.text.split("\n")):
                lines.setdefault(part.line_start + i, text)
    if line_start is None or not lines:
        return [Line(None, text, False) for text in unnumbered]
    end = line_end if line_end is not None else line_start
    first, last = max(min(lines), line_start - around), min(max(lines), end + around)
    # Lines no part holds (blank lines between paragraphs, markup) are shown empty.
    return [Line(n, lines.get(n, ""), line_start <= n <= end) for n in range(first, last + 1)]
