"""Markdown: ATX and setext headings build the heading path; blocks keep exact source lines.

The text of a part is the Markdown source of its block (inline markup kept), except that
``data:`` URIs lose their payload, ``<script>``/``<style>`` blocks are dropped and Obsidian
``[[wikilinks]]`` read as the words they show (``[[Note|alias]]`` -> ``alias``). A YAML front
matter block gives the title and metadata and is not body text; the lines after it keep their
numbers. Links and embeds are resolved within the note's vault (``ragd.index.parse.vault``);
an embed is never inlined, so a passage is always cited from the note that holds it.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

from ragd.index.models import Document, Part
from ragd.index.parse import vault
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


MAX_FRONT_MATTER_LINES = 1000
MAX_FRONT_MATTER_CHARS = 64 << 10
_META_KEYS = {"tags": "tags", "tag": "tags", "aliases": "aliases", "alias": "aliases", "author": "author",
              "authors": "author", "date": "date", "created": "created", "updated": "updated",
              "modified": "modified", "description": "description", "summary": "description"}
_WIKILINK = re.compile(r"(!?)\[\[([^\[\]\n]+?)\]\]")
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")


def _scalar(value: object) -> str | None:
    """A front matter value as text: scalars and dates; None for structures (which can be alias bombs)."""
    if isinstance(value, bool) or value is None:
        return None if value is None else str(value).lower()
    if isinstance(value, datetime.date):  # datetime too: ISO 8601, as written
        return value.isoformat()
    if isinstance(value, str | int | float):
        return " ".join(str(value).split())[:500]
    return None


def _meta_value(value: object) -> str | None:
    if isinstance(value, list):
        items = [text for text in (_scalar(v) for v in value[:100]) if text]
        return "; ".join(items) or None
    return _scalar(value)


def _front_matter(lines: list[str]) -> tuple[int, str | None, dict[str, str]]:
    """(number of lines of a leading YAML front matter block, its title, its tags/aliases/dates as text).

    Parsed with ``yaml.safe_load``, size-capped; a block that is not a mapping gives no metadata but is
    still not body text (Obsidian shows it as properties, not prose).
    """
    if not lines or lines[0].strip() != "---":
        return 0, None, {}
    for i, line in enumerate(lines[1:MAX_FRONT_MATTER_LINES], start=1):
        if line.strip() in ("---", "..."):
            return i + 1, *_front_matter_fields("\n".join(lines[1:i]))
    return 0, None, {}


def _front_matter_fields(block: str) -> tuple[str | None, dict[str, str]]:
    import yaml

    if len(block) > MAX_FRONT_MATTER_CHARS:
        return None, {}
    try:
        data: Any = yaml.safe_load(block)
    except (yaml.YAMLError, ValueError, RecursionError):
        return None, {}
    if not isinstance(data, dict):
        return None, {}
    title: str | None = None
    meta: dict[str, str] = {}
    for key, value in list(data.items())[:200]:
        name = str(key).strip().lower()
        if name == "title":
            title = _scalar(value) or None
            continue
        target = _META_KEYS.get(name) or (str(key).strip() if name.endswith("date") and len(name) <= 40 else None)
        text = _meta_value(value) if target else None
        if target and text and target not in meta:
            meta[target] = text
    return title, meta


class _Links:
    """Renders wikilinks and embeds in a line as readable words, collecting their targets."""

    def __init__(self) -> None:
        self.links: list[str] = []
        self.embeds: list[str] = []

    def render(self, line: str) -> str:
        if "[[" not in line:
            return line
        out: list[str] = []
        pos = 0
        for span in _CODE_SPAN.finditer(line):  # `[[x]]` in a code span is not a link
            out.append(_WIKILINK.sub(self._replace, line[pos : span.start()]))
            out.append(span.group(0))
            pos = span.end()
        out.append(_WIKILINK.sub(self._replace, line[pos:]))
        return "".join(out)

    def _replace(self, match: re.Match[str]) -> str:
        embed = bool(match.group(1))
        target, _, alias = match.group(2).partition("|")
        note, _, section = target.partition("#")
        note, section, alias = note.strip(), section.strip(), alias.strip()
        if note:
            (self.embeds if embed else self.links).append(note)
        shown = alias or note or section.lstrip("^")
        return f"(embedded: {shown})" if embed else shown


class Outline:
    """Parts under a heading path, built line by line (shared with ``parse.markup`` and notebooks)."""

    def __init__(self, stack: list[tuple[int, str]] | None = None) -> None:
        self.parts: list[Part] = []
        self.stack: list[tuple[int, str]] = stack if stack is not None else []
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


def parse_markdown(text: str, *, first_line: int = 1, stack: list[tuple[int, str]] | None = None,
                   front_matter: bool = True) -> Document:
    """Parse Markdown ``text`` whose first line is source line ``first_line``.

    ``stack`` (heading levels and titles, outermost first) is the heading context to start in and is
    updated in place, so that a caller parsing pieces (a notebook's cells) keeps one outline.
    """
    return parse_note(text, first_line=first_line, stack=stack, front_matter=front_matter)[0]


def parse_note(text: str, *, first_line: int = 1, stack: list[tuple[int, str]] | None = None,
               front_matter: bool = True) -> tuple[Document, list[str], list[str]]:
    """:func:`parse_markdown`, with the targets of its wikilinks and of its embeds as written (in order, once)."""
    lines = strip_data_uris(text).split("\n")
    skip, fm_title, meta = _front_matter(lines) if front_matter else (0, None, {})
    links = _Links()
    b = Outline(stack)
    i = skip
    while i < len(lines):
        line, number = lines[i], i + first_line
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
        line = links.render(line)
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
    doc = Document(parts=b.parts, title=fm_title or b.first_h1, meta=meta)
    return doc, list(dict.fromkeys(links.links)), list(dict.fromkeys(links.embeds))


class MarkdownParser:
    """Markdown and Obsidian-style notes."""

    suffixes: tuple[str, ...] = (".md", ".markdown", ".mdown", ".mkd", ".mdx")

    def parse(self, path: Path, data: bytes) -> list[Document]:
        doc, links, embeds = parse_note(decode_text_file(data))
        if links or embeds:
            vault.resolve_note_links(path, doc, links, embeds)
        return [doc]
