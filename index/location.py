"""Where a passage sits in its file, said one way everywhere: the CLI, the prompt, the API's text, the tray."""

from __future__ import annotations


def place(page: int | None, line_start: int | None, line_end: int | None) -> str:
    """``p. 3, lines 4-9`` (``line 4`` for one line), leaving out what is unknown; empty when nothing is."""
    parts = []
    if page:
        parts.append(f"p. {page}")
    if line_start:
        end = line_end or line_start
        parts.append(f"line {line_start}" if end == line_start else f"lines {line_start}-{end}")
    return ", ".join(parts)


def cited(path: str, page: int | None, line_start: int | None, line_end: int | None) -> str:
    """``path (p. 3, lines 4-9)``, or the path alone when its place is unknown."""
    where = place(page, line_start, line_end)
    return f"{path} ({where})" if where else path
