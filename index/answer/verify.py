"""Citation checking: a quote must occur verbatim (whitespace aside) in its file at the cited place.

The file is parsed again, now (in the isolated parser pool), so a file that changed or
vanished since it was indexed does not keep its citations. An item that is not a local file (a
message on a mail server) is read again through its connector, the same ``read`` that indexed it.
The line span reported is the span of the quote itself, found in the parsed part it came from.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ragd.connectors import is_url
from ragd.index.isolate import Job, ParseJob, ParseResult
from ragd.index.models import Document, Part

_SPACE = re.compile(r"\s+")


def normalise(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def _normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """Whitespace-collapsed text and, for each of its characters, the offset it came from."""
    out: list[str] = []
    offsets: list[int] = []
    pending_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            pending_space = bool(out)
            continue
        if pending_space:
            out.append(" ")
            offsets.append(i - 1)
            pending_space = False
        out.append(ch)
        offsets.append(i)
    return "".join(out), offsets


@dataclass(frozen=True)
class Place:
    page: int | None
    line_start: int | None
    line_end: int | None
    sheet: str | None = None
    slide: int | None = None
    ocr: bool = False


def find_in_part(quote: str, part: Part) -> Place | None:
    norm, offsets = _normalise_with_offsets(part.text)
    at = norm.find(normalise(quote))
    if at < 0:
        return None
    if part.line_start is None:
        return Place(part.page, None, None, part.sheet, part.slide, part.ocr)
    first = offsets[at]
    last = offsets[at + len(normalise(quote)) - 1]
    return Place(part.page, part.line_start + part.text.count("\n", 0, first),
                 part.line_start + part.text.count("\n", 0, last), part.sheet, part.slide, part.ocr)


class Verifier:
    """Finds quotes in freshly parsed files; keeps the last few parses, keyed by path, size and mtime (an item
    read through a connector: by the hash of its bytes)."""

    def __init__(self, parse: Callable[[Job], ParseResult], keep: int = 16,
                 read_item: Callable[[str], ParseJob | None] | None = None) -> None:
        """``read_item``: an item's bytes now, by its key (a URL), or None if no source holds it or it is gone."""
        self.parse = parse
        self.keep = keep
        self.read_item = read_item
        self._docs: OrderedDict[str, list[Document]] = OrderedDict()

    def documents(self, path: str) -> list[Document]:
        """The file parsed now (or recently, if its size and mtime have not changed since)."""
        job: Job
        if is_url(path):
            item = self.read_item(path) if self.read_item is not None else None
            if item is None:
                return []
            job, key = item, f"{path}\0{hashlib.sha256(item.data).hexdigest()}"
        else:
            try:
                st = os.stat(path)
            except OSError:
                return []
            if not stat.S_ISREG(st.st_mode):
                return []
            job, key = Path(path), f"{path}\0{st.st_size}\0{st.st_mtime_ns}"
        if key in self._docs:
            self._docs.move_to_end(key)
            return self._docs[key]
        result = self.parse(job)
        docs = result.documents or []
        self._docs[key] = docs
        if len(self._docs) > self.keep:
            self._docs.popitem(last=False)
        return docs

    def locate(self, path: str, doc_key: str, page: int | None, near_line: int | None, quote: str, *,
               sheet: str | None = None, slide: int | None = None) -> Place | None:
        """Where ``quote`` occurs in ``path`` (in the document ``doc_key``, on ``page``, ``sheet`` or ``slide``
        where given), nearest ``near_line``. Text read by OCR is compared with the cached OCR of its page image
        (the parser's OCR cache), so checking a citation never runs OCR again."""
        if not normalise(quote):
            return None
        found: list[Place] = []
        for doc in self.documents(path):
            if doc.key != doc_key:
                continue
            for part in doc.parts:
                if not part.is_at(page, sheet, slide):
                    continue
                place = find_in_part(quote, part)
                if place is not None:
                    found.append(place)
        if not found:
            return None
        if near_line is None:
            return found[0]
        return min(found, key=lambda p: abs((p.line_start or 0) - near_line))

    def forget(self) -> None:
        self._docs.clear()
