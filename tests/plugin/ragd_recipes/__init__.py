"""A parser for ``.recipe`` cards (``Title:`` then ``Step N:`` lines): one part per step, with its line."""

from __future__ import annotations

from pathlib import Path

from ragd.index.errors import ParseError
from ragd.index.models import Document, Part


class RecipeParser:
    suffixes = (".recipe",)

    def parse(self, path: Path, data: bytes) -> list[Document]:
        lines = data.decode("utf-8").splitlines()
        if not lines or not lines[0].startswith("Title:"):
            raise ParseError("not a recipe card: the first line must be 'Title: ...'")
        title = lines[0].removeprefix("Title:").strip()
        parts = [Part(text=line.split(":", 1)[1].strip(), line_start=n, line_end=n, heading=(title,))
                 for n, line in enumerate(lines, 1) if line.startswith("Step ") and ":" in line]
        return [Document(parts=parts, title=title)]
