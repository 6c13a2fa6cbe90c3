"""Where a passage sits in its file, said one way everywhere: the CLI, the prompt, the API's text, the tray."""

from __future__ import annotations

from ragd.index.paths import is_url


def place(page: int | None, line_start: int | None, line_end: int | None) -> str:
    """``p. 3, lines 4-9`` (``line 4`` for one line), leaving out what is unknown; empty when nothing is."""
    parts = []
    if page:
        parts.append(f"p. {page}")
    if line_start:
        end = line_end or line_start
        parts.append(f"line {line_start}" if end == line_start else f"lines {line_start}-{end}")
    return ", ".join(parts)


def cited(path: str, page: int | None, line_start: int | None, line_end: int | None, title: str | None = None) -> str:
    """``path (p. 3, lines 4-9)``, or the path alone when its place is unknown. An item that is not a file (its key
    is a URL: a message) is named with its title too (a message's subject): ``imap://…;UID=7 "Subject" (lines 8-9)``."""
    where = place(page, line_start, line_end)
    name = f'{path} "{title}"' if title and is_url(path) else path
    return f"{name} ({where})" if where else name
