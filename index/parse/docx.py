"""DOCX: paragraphs, headings (by style), tables, text boxes, footnotes, endnotes and comments.

Read straight from the package XML with lxml by local names, so ISO 29500 Strict
documents work as well as transitional ones. Ruby (phonetic guide) text, deleted
text and field codes are left out.
Headers and footers come last, each distinct text once. No line spans or pages: DOCX has
neither until it is laid out. A document without text (only images, empty tables) gives a
document without parts.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from typing import Any

from ragd.index.errors import ParseError
from ragd.index.models import Document, Part
from ragd.index.parse.container import attr, find_member, local, open_zip, parse_xml, read_member

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
_SPACES = re.compile(r"[ \t\xa0]+")
_HEADING_NAME = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)
_SKIP = frozenset({"rt", "delText", "instrText", "Fallback", "footnoteReference", "endnoteReference",
                   "commentReference", "pPr", "rPr", "sectPr", "tblPr", "trPr", "tcPr"})
_NOTE_KINDS = {"footnotes": ("footnote", "Footnotes"), "endnotes": ("endnote", "Endnotes"),
               "comments": ("comment", "Comments"), "header": ("header", "Headers and footers"),
               "footer": ("footer", "Headers and footers")}


def _rels(archive: zipfile.ZipFile, rels_name: str, base_dir: str) -> list[tuple[str, str]]:
    """(relationship type suffix such as 'styles', member name) in document order."""
    name = find_member(archive, rels_name)
    data = read_member(archive, name) if name else None
    out: list[tuple[str, str]] = []
    if not data:
        return out
    for rel in parse_xml(data, rels_name).iter():
        if local(rel.tag) != "Relationship" or attr(rel, "TargetMode") == "External":
            continue
        kind = (attr(rel, "Type") or "").rpartition("/")[2]
        target = attr(rel, "Target") or ""
        if target.startswith("/"):
            out.append((kind, target.lstrip("/")))
        else:
            out.append((kind, posixpath.normpath(posixpath.join(base_dir, target))))
    return out


def _styles(root: Any | None) -> dict[str, tuple[str, int | None]]:
    """styleId -> (style name, heading level or None); level 0 is the Title style."""
    styles: dict[str, tuple[str, int | None]] = {}
    if root is None:
        return styles
    for style in root.iter():
        if local(style.tag) != "style":
            continue
        sid = attr(style, "styleId") or ""
        name = sid
        level: int | None = None
        for child in style.iter():
            tag = local(child.tag)
            if tag == "name":
                name = attr(child, "val") or sid
            elif tag == "outlineLvl" and (attr(child, "val") or "").isdigit():
                level = int(attr(child, "val") or 0) + 1
        found = _HEADING_NAME.match(name.strip())
        if found:
            level = int(found.group(1))
        elif name.strip().lower() == "title":
            level = 0
        if level is not None and level > 9:
            level = None
        styles[sid] = (name, level)
    return styles


class HeadedParts:
    """Parts of a word processor's body under the heading path so far (DOCX here, ODT in ``office_text``)."""

    def __init__(self) -> None:
        self.parts: list[Part] = []
        self.stack: list[tuple[int, str]] = []
        self.first_heading: str | None = None

    @property
    def path(self) -> tuple[str, ...]:
        return tuple(t for _, t in self.stack)

    def heading(self, level: int, text: str) -> None:
        """A heading of ``level`` (1 outermost): it closes the headings at its level and below."""
        title = " ".join(text.split())
        while self.stack and self.stack[-1][0] >= level:
            self.stack.pop()
        self.stack.append((level, title))
        self.first_heading = self.first_heading or title
        self.parts.append(Part(title, heading=self.path, kind="heading"))


class _Body(HeadedParts):
    """Walks a body-like element (document body, footnote, cell) into parts."""

    def __init__(self, styles: dict[str, tuple[str, int | None]]) -> None:
        super().__init__()
        self.styles = styles
        self.title: str | None = None

    def blocks(self, container: Any, kind: str = "text", heading: tuple[str, ...] | None = None) -> None:
        for child in container:
            tag = local(child.tag)
            if tag == "p":
                self.paragraph(child, kind, heading)
            elif tag == "tbl":
                self.table(child, heading)
            elif tag in ("sdt", "sdtContent", "customXml", "smartTag", "ins", "moveTo", "AlternateContent",
                         "Choice"):
                self.blocks(child, kind, heading)

    def level(self, p: Any) -> int | None:
        for child in p:
            if local(child.tag) != "pPr":
                continue
            for prop in child:
                tag = local(prop.tag)
                if tag == "pStyle":
                    style = self.styles.get(attr(prop, "val") or "")
                    if style and style[1] is not None:
                        return style[1]
                    found = _HEADING_NAME.match((attr(prop, "val") or "").replace("Heading", "heading "))
                    if found:
                        return int(found.group(1))
                elif tag == "outlineLvl" and (attr(prop, "val") or "").isdigit():
                    value = int(attr(prop, "val") or 9)
                    return value + 1 if value < 9 else None
        return None

    def paragraph(self, p: Any, kind: str, heading: tuple[str, ...] | None) -> None:
        out: list[str] = []
        boxes: list[Any] = []
        _inline_text(p, out, boxes)
        text = _SPACES.sub(" ", "".join(out)).strip()
        level = self.level(p) if heading is None else None
        if text and level is not None:
            if level == 0:
                self.title = self.title or " ".join(text.split())
            else:
                self.heading(level, text)
        elif text:
            self.parts.append(Part(text, heading=self.path if heading is None else heading, kind=kind))
        for box in boxes:
            self.blocks(box, kind, heading)

    def table(self, tbl: Any, heading: tuple[str, ...] | None) -> None:
        for row in tbl:
            if local(row.tag) != "tr":
                continue
            cells = []
            for cell in row:
                if local(cell.tag) == "tc":
                    out: list[str] = []
                    _cell_text(cell, out)
                    cells.append(" ".join(" ".join(out).split()))
            if any(cells):
                where = self.path if heading is None else heading
                self.parts.append(Part(" | ".join(c for c in cells if c), heading=where, kind="table"))


def _inline_text(el: Any, out: list[str], boxes: list[Any]) -> None:
    for child in el:
        tag = local(child.tag)
        if not tag or tag in _SKIP:
            pass
        elif tag == "t":
            out.append(child.text or "")
        elif tag == "tab":
            out.append("\t")
        elif tag in ("br", "cr"):
            out.append("\n")
        elif tag == "noBreakHyphen":
            out.append("-")
        elif tag == "txbxContent":
            boxes.append(child)
        else:
            _inline_text(child, out, boxes)


def _cell_text(el: Any, out: list[str]) -> None:
    """All text in a table cell, nested paragraphs, tables and text boxes included."""
    for child in el.iter():
        tag = local(child.tag)
        if tag == "t" and not any(local(a.tag) in ("rt", "Fallback") for a in child.iterancestors()):
            out.append(child.text or "")
        elif tag == "p":
            out.append(" ")


def _notes(archive: zipfile.ZipFile, member: str, kind: str, label: str,
           styles: dict[str, tuple[str, int | None]]) -> list[Part]:
    data = read_member(archive, member)
    if not data:
        return []
    body = _Body(styles)
    root = parse_xml(data, member)
    if kind in ("header", "footer"):
        body.blocks(root, kind, (label,))
        return body.parts
    for note in root:
        if (attr(note, "type") or "normal") in ("separator", "continuationSeparator", "continuationNotice"):
            continue
        body.blocks(note, kind, (label,))
    return body.parts


def _core_title(archive: zipfile.ZipFile) -> str | None:
    name = find_member(archive, "docProps/core.xml")
    data = read_member(archive, name) if name else None
    if not data:
        return None
    for el in parse_xml(data, name or "core.xml").iter():
        if local(el.tag) == "title" and el.text and el.text.strip():
            return " ".join(el.text.split())
    return None


def parse_docx(data: bytes) -> Document:
    if data.startswith(OLE_MAGIC):
        if _ENCRYPTION_INFO in data:
            raise ParseError("encrypted DOCX: password-protected documents are not supported")
        raise ParseError("not a DOCX file (a legacy Word .doc or other OLE container)")
    archive = open_zip(data, "DOCX")
    target = dict(reversed(_rels(archive, "_rels/.rels", ""))).get("officeDocument") or "word/document.xml"
    main = find_member(archive, target) or find_member(archive, "word/document.xml")
    if main is None:
        raise ParseError("damaged DOCX: no main document part")
    base = posixpath.dirname(main)
    related = _rels(archive, posixpath.join(base, "_rels", posixpath.basename(main) + ".rels"), base)
    rels = dict(reversed(related))
    styles_name = find_member(archive, rels.get("styles", posixpath.join(base, "styles.xml")))
    styles_data = read_member(archive, styles_name) if styles_name else None
    styles = _styles(parse_xml(styles_data, styles_name or "styles") if styles_data else None)

    root = parse_xml(read_member(archive, main) or b"", main)
    body = _Body(styles)
    for el in root:
        if local(el.tag) == "body":
            body.blocks(el)
    parts = body.parts
    seen: set[str] = set()
    for rel_kind, target in related:
        member = find_member(archive, target) if rel_kind in _NOTE_KINDS else None
        if member is None or member in seen:
            continue
        seen.add(member)
        kind, label = _NOTE_KINDS[rel_kind]
        for part in _notes(archive, member, kind, label, styles):
            if kind not in ("header", "footer") or part.text not in seen:
                seen.add(part.text)
                parts.append(part)
    title = _core_title(archive) or body.title or body.first_heading
    return Document(parts=parts, title=title)


class DocxParser:
    suffixes: tuple[str, ...] = (".docx", ".docm", ".dotx")

    def parse(self, path: Path, data: bytes) -> list[Document]:
        return [parse_docx(data)]
