"""HTML: the title and the main text as block parts, under the h1–h6 heading path.

Scripts, styles, navigation and other non-content elements are dropped. Part text keeps
the source's line breaks (runs of other whitespace become one space), and line spans
come from lxml's ``sourceline``, so a chunk can be cited by source lines; a document
on one line (minified) has every part on line 1. No entity expansion, no network.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ragd.index.models import Document, Part
from ragd.index.parse.encoding import decode

_SKIP = frozenset({"script", "style", "noscript", "template", "nav", "head", "iframe", "object", "embed",
                   "svg", "math", "canvas", "select", "datalist", "button", "title"})
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
    "dir", "div", "dl", "dt", "fieldset", "figcaption", "figure", "footer", "form", "frameset", "header",
    "hgroup", "hr", "html", "legend", "li", "main", "menu", "noframes", "ol", "p", "pre", "section",
    "summary", "table", "tbody", "tfoot", "thead", "tr", "ul",
})
_CONTAINERS = frozenset({"p", "div", "table", "ul", "ol", "dl", "blockquote", "pre", "section", "article",
                         "h1", "h2", "h3", "h4", "h5", "h6", "form", "center"})
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_CELLS = frozenset({"td", "th"})
_ROW_JUNK = re.compile(r"[\s|]+")
_AROUND_NEWLINE = re.compile(r" *\n *")
_SPACE = re.compile(r"[ \t\f\v\r\u00a0\u200b]+")
_META_CHARSET = re.compile(rb"""<meta[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^<\?xml[^>]{0,200}?encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""")
_MAX_GAP = 3  # a block gaining more than this many blank source lines at once is cut in two


def _local(tag: object) -> str | None:
    if not isinstance(tag, str):
        return None  # comment, processing instruction, entity
    return tag.rpartition("}")[2].lower()


def _collapse(text: str) -> str:
    return " ".join(text.split())


class _Walker:
    """Turns an element tree into parts; one pass in document order, no recursion."""

    def __init__(self, base_heading: tuple[str, ...], with_lines: bool) -> None:
        self.parts: list[Part] = []
        self.base = base_heading
        self.with_lines = with_lines
        self.stack: list[tuple[int, str]] = []
        self.buf: list[str] = []
        self.start: int | None = None
        self.line: int | None = None
        self.heading_level = 0
        self.heading_buf: list[str] = []
        self.heading_line: int | None = None
        self.pre = 0
        self.cells = 0  # depth of simple (data) table cells
        self.cell_modes: list[bool] = []  # per open cell: is it a layout cell
        self.in_row = False  # the buffer holds table-row text
        self.headings: list[str] = []

    @property
    def path(self) -> tuple[str, ...]:
        return self.base + tuple(t for _, t in self.stack)

    def sync(self, sourceline: int | None) -> None:
        """Move the line cursor to an element's start line, keeping the block's line map exact."""
        if not self.with_lines or sourceline is None:
            return
        if self.line is None or sourceline < self.line:
            self.line = sourceline
            return
        gap = sourceline - self.line
        if gap and self.buf and not self.heading_level:
            if gap > _MAX_GAP:
                self.flush()
            else:
                self.buf.append("\n" * gap)
        self.line = sourceline

    def text(self, raw: str | None) -> None:
        if not raw:
            return
        newlines = raw.count("\n")
        if self.heading_level:
            self.heading_buf.append(raw)
        else:
            text = raw if self.pre else _SPACE.sub(" ", raw)
            if not self.buf:
                stripped = text.lstrip()
                if stripped:
                    if self.line is not None:
                        self.start = self.line + text[: len(text) - len(stripped)].count("\n")
                    self.buf.append(stripped)
            else:
                self.buf.append(text)
        if self.line is not None:
            self.line += newlines

    def flush(self) -> None:
        text = "".join(self.buf).rstrip()
        self.buf = []
        row, self.in_row = self.in_row, False
        if not text.strip() or (row and not _ROW_JUNK.sub("", text)):
            return
        start = self.start if self.with_lines else None
        end = start + text.count("\n") if start is not None else None
        if row:  # one line per table row: cells are separated by " | ", not by source lines
            text = " | ".join(c for c in (" ".join(cell.split()) for cell in text.split(" | ")) if c)
        elif not self.pre:
            text = _AROUND_NEWLINE.sub("\n", text)
        kind = "code" if self.pre else "table" if row else "text"
        self.parts.append(Part(text, line_start=start, line_end=end, heading=self.path, kind=kind))

    def open_heading(self, level: int, sourceline: int | None) -> None:
        self.flush()
        self.heading_level = level
        self.heading_buf = []
        self.heading_line = sourceline if self.with_lines else None

    def close_heading(self) -> None:
        title = _collapse("".join(self.heading_buf))
        level, self.heading_level = self.heading_level, 0
        if not title:
            return
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, title))
        self.headings.append(title)
        end = self.line if self.heading_line is not None else None
        self.parts.append(Part(title, line_start=self.heading_line, line_end=end, heading=self.path,
                               kind="heading"))

    def walk(self, root: Any) -> None:
        from lxml import etree

        walker = etree.iterwalk(root, events=("start", "end"))
        for event, el in walker:
            name = _local(el.tag)
            if event == "start":
                if name is None:
                    continue
                self.sync(el.sourceline)
                if name in _SKIP or el.get("hidden") is not None:
                    walker.skip_subtree()
                    continue
                self.open(name, el)
                self.text(el.text)
            else:
                if name is not None and name not in _SKIP and el.get("hidden") is None:
                    self.close(name)
                self.text(el.tail)
        self.flush()

    def open(self, name: str, el: Any) -> None:
        if name in _CELLS:
            layout = _has_blocks(el)
            self.cell_modes.append(layout)
            if layout:
                self.flush()
            else:
                if self.buf and self.in_row:
                    self.buf.append(" | ")
                self.in_row = True
                self.cells += 1
        elif self.cells:  # inside a simple table cell everything is inline
            if name in _BLOCKS or name == "br":
                self.text(" ")
        elif name in _HEADINGS and not self.heading_level:
            self.open_heading(_HEADINGS[name], el.sourceline)
        elif name == "br":
            self.text(" ")
        elif name in _BLOCKS:
            self.flush()
            if name == "pre":
                self.pre += 1

    def close(self, name: str) -> None:
        if name in _CELLS:
            layout = self.cell_modes.pop() if self.cell_modes else True
            if layout:
                self.flush()
            else:
                self.cells = max(0, self.cells - 1)
        elif self.cells:
            return
        elif name in _HEADINGS and self.heading_level == _HEADINGS[name]:
            self.close_heading()
        elif name in _BLOCKS:
            self.flush()
            if name == "pre":
                self.pre = max(0, self.pre - 1)


def _has_blocks(cell: Any) -> bool:
    """A layout cell (holding paragraphs, lists, tables ...) is walked as a container, not as a cell."""
    return any(n > 2000 or _local(el.tag) in _CONTAINERS for n, el in enumerate(cell.iterdescendants()))


def tree_to_document(root: Any, *, base_heading: tuple[str, ...] = (), with_lines: bool = True) -> Document:
    """Parts and title from a parsed (X)HTML tree."""
    title = None
    for el in root.iter():
        if _local(el.tag) == "title":
            title = _collapse(el.text_content() if hasattr(el, "text_content") else "".join(el.itertext()))
            break
    body = next((el for el in root.iter() if _local(el.tag) == "body"), root)
    walker = _Walker(base_heading, with_lines)
    walker.line = body.sourceline if with_lines else None
    walker.walk(body)
    meta: dict[str, str] = {}
    for el in root.iter():
        if _local(el.tag) == "meta" and (el.get("name") or "").lower() in ("author", "description"):
            meta[el.get("name").lower()] = _collapse(el.get("content") or "")
    return Document(parts=walker.parts, title=title or (walker.headings[0] if walker.headings else None),
                    meta={k: v for k, v in meta.items() if v})


def html_parser() -> Any:
    from lxml import html

    return html.HTMLParser(remove_comments=True, remove_pis=True, no_network=True, recover=True,
                           huge_tree=False, default_doctype=False)


def parse_html_text(text: str, *, base_heading: tuple[str, ...] = (), with_lines: bool = True) -> Document:
    """Parse decoded HTML text (newlines already normalised)."""
    from lxml import etree, html

    if not text.strip():
        return Document(parts=[])
    try:
        root = html.document_fromstring(text, parser=html_parser())
    except (etree.ParserError, ValueError):
        return Document(parts=[])  # "Document is empty": markup without content
    return tree_to_document(root, base_heading=base_heading, with_lines=with_lines)


def declared_charset(data: bytes) -> str | None:
    """A charset declared in an XML prolog or a <meta> tag near the start."""
    head = data[:131072]
    found = _XML_ENCODING.match(head) or _META_CHARSET.search(head)
    return found.group(1).decode("ascii") if found else None


def html_to_text(data: bytes, charset: str | None = None) -> str:
    """Plain text of an HTML document (for mail bodies), blocks separated by blank lines."""
    text, _ = decode(data, charset or declared_charset(data))
    doc = parse_html_text(text, with_lines=False)
    return "\n\n".join(p.text for p in doc.parts)


class HtmlParser:
    suffixes: tuple[str, ...] = (".html", ".htm", ".xhtml", ".shtml")

    def parse(self, path: Path, data: bytes) -> list[Document]:
        text, encoding = decode(data, declared_charset(data))
        doc = parse_html_text(text)
        doc.meta["encoding"] = encoding
        return [doc]
