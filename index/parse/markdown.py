"""Markdown: ATX and setext headings build the heading path; blocks keep exact source lines.

The text of a part is the Markdown source of its block (inline markup kept), except that
``data:`` URIs lose their payload and ``<script>``/``<style>`` blocks are dropped.
"""

from __future__ import annotations

import re
from pathlib import Path

from ragd.index.models import Document, Part
from ragd.index.parse.encoding import decode_text_file
from ragd.index.parse.text import MAX_BLOCK_LINES

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_THEMATIC = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_RAW_OPEN = re.compile(r"^ {0,3}<(script|style)\b", re.IGNORECASE)
_TABLE_RULE = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_NOT_PARAGRAPH = re.compile(r"^ {0,3}([-+*>|]|\d+[.)])")
DATA_URI = re.compile(r"data:[\w.+-]*/?[\w.+-]*(?:;[\w.+-]+=[\w.+-]+)*;base64,[A-Za-z0-9+/=]{16,}")
_INLINE = [
    (re.compile(r"!?\[([^\]]*)\]\([^)]*\)"), r"\1"),  # links and images keep their text
    (re.compile(r"(\*\*|__|\*|_|~~|`+)(.+?)\1"), r"\2"),
    (re.compile(r"<[^>]+>"), ""),
]


def strip_data_uris(text: str) -> str:
    return DATA_URI.sub("data:…", text)


def plain_inline(text: str) -> str:
    """A heading's text without inline markup."""
    for pattern, repl in _INLINE:
        text = pattern.sub(repl, text)
    return " ".join(text.split())


def _front_matter(lines: list[str]) -> tuple[int, str | None]:
    """(number of lines of a leading YAML front matter block, its title)."""
    if not lines or lines[0].strip() != "---":
        return 0, None
    for i, line in enumerate(lines[1:200], start=1):
        if line.strip() in ("---", "..."):
            title = None
            for meta in lines[1:i]:
                key, sep, value = meta.partition(":")
                if sep and key.strip().lower() == "title" and value.strip():
                    title = value.strip().strip("\"'")
            return i + 1, title
    return 0, None


class _Builder:
    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.stack: list[tuple[int, str]] = []
        self.block: list[str] = []
        self.start = 0
        self.first_h1: str | None = None

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self.stack)

    def add_line(self, number: int, line: str) -> None:
        if self.block and len(self.block) >= MAX_BLOCK_LINES:
            self.flush()
        if not self.block:
            self.start = number
        self.block.append(line)

    def flush(self) -> None:
        if not self.block:
            return
        kind = "table" if len(self.block) >= 2 and _TABLE_RULE.match(self.block[1]) and "|" in self.block[0] \
            else "text"
        text = "\n".join(self.block)
        if text.strip():
            self.parts.append(Part(text, line_start=self.start, line_end=self.start + len(self.block) - 1,
                                   heading=self.path, kind=kind))
        self.block = []

    def heading(self, level: int, title: str, start: int, end: int) -> None:
        self.flush()
        if not title:
            return
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, title))
        if level == 1 and self.first_h1 is None:
            self.first_h1 = title
        self.parts.append(Part(title, line_start=start, line_end=end, heading=self.path, kind="heading"))

    def code(self, lines: list[str], start: int) -> None:
        self.flush()
        text = "\n".join(lines)
        if text.strip():
            self.parts.append(Part(text, line_start=start, line_end=start + len(lines) - 1,
                                   heading=self.path, kind="code"))


def parse_markdown(text: str) -> Document:
    lines = strip_data_uris(text).split("\n")
    skip, fm_title = _front_matter(lines)
    b = _Builder()
    i = skip
    while i < len(lines):
        line, number = lines[i], i + 1
        fence = _FENCE.match(line)
        raw = _RAW_OPEN.match(line)
        if fence:
            marker = fence.group(1)
            end = i + 1
            while end < len(lines) and not lines[end].lstrip().startswith(marker):
                end += 1
            b.code(lines[i + 1 : end], number + 1)
            i = end + 1
            continue
        if raw:
            b.flush()
            closing = f"</{raw.group(1).lower()}"
            end = i
            while end < len(lines) and closing not in lines[end].lower():
                end += 1
            i = end + 1
            continue
        atx = _ATX.match(line)
        if atx:
            b.heading(len(atx.group(1)), plain_inline(atx.group(2) or ""), number, number)
        elif not line.strip():
            b.flush()
        elif _SETEXT.match(line) and b.block and not _NOT_PARAGRAPH.match(b.block[0]):
            title, start = plain_inline(" ".join(b.block)), b.start
            b.block = []
            b.heading(1 if line.strip().startswith("=") else 2, title, start, number)
        elif _THEMATIC.match(line):
            b.flush()
        else:
            b.add_line(number, line)
        i += 1
    b.flush()
    return Document(parts=b.parts, title=fm_title or b.first_h1)


class MarkdownParser:
    suffixes: tuple[str, ...] = (".md", ".markdown", ".mdown", ".mkd", ".mdx")

    def parse(self, path: Path, data: bytes) -> list[Document]:
        return [parse_markdown(decode_text_file(data))]
