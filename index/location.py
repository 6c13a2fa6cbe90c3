"""Where a passage sits in its file, said one way everywhere: the CLI, the prompt, the API's text, the tray.

A place is made of what is known of: the page (PDF, a multi-page image), the slide (a presentation), the sheet
(a spreadsheet; its lines are then the sheet's rows) and the line span; text read by OCR says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ragd.index.paths import is_url


def place(page: int | None, line_start: int | None, line_end: int | None, *, sheet: str | None = None,
          slide: int | None = None, ocr: bool = False) -> str:
    """``p. 3, lines 4-9`` (``line 4`` for one line), ``slide 2``, ``sheet "March", rows 4-9``, with ``, OCR`` for
    text read from an image; leaving out what is unknown; empty when nothing is."""
    parts = []
    if sheet is not None:
        parts.append(f'sheet "{sheet}"')
    if slide:
        parts.append(f"slide {slide}")
    if page:
        parts.append(f"p. {page}")
    if line_start:
        end = line_end or line_start
        unit = ("row", "rows") if sheet is not None else ("line", "lines")
        parts.append(f"{unit[0]} {line_start}" if end == line_start else f"{unit[1]} {line_start}-{end}")
    if ocr:
        parts.append("OCR")
    return ", ".join(parts)


def place_of(at: Any) -> str:
    """:func:`place` of anything located: a hit, a citation (attributes) or their JSON (a mapping)."""
    def get(name: str) -> Any:
        return at.get(name) if isinstance(at, Mapping) else getattr(at, name, None)

    return place(get("page"), get("line_start"), get("line_end"), sheet=get("sheet"), slide=get("slide"),
                 ocr=bool(get("ocr")))


def cited(path: str, page: int | None, line_start: int | None, line_end: int | None, title: str | None = None, *,
          sheet: str | None = None, slide: int | None = None, ocr: bool = False) -> str:
    """``path (p. 3, lines 4-9)``, or the path alone when its place is unknown. An item that is not a file (its key
    is a URL: a message) is named with its title too (a message's subject): ``imap://…;UID=7 "Subject" (lines 8-9)``."""
    return _named(path, title, place(page, line_start, line_end, sheet=sheet, slide=slide, ocr=ocr))


def cited_of(at: Any) -> str:
    """:func:`cited` of a hit or a citation."""
    return _named(at.path, getattr(at, "title", None), place_of(at))


def _named(path: str, title: str | None, where: str) -> str:
    name = f'{path} "{title}"' if title and is_url(path) else path
    return f"{name} ({where})" if where else name
