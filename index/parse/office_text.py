"""OpenDocument text (.odt) and RTF: paragraphs, headings, tables, notes; no line spans (like DOCX).

ODT is read from ``content.xml`` with the same guarded zip and XML access as DOCX (directory checked for
bombs first; no DTDs, entities or network). Tracked changes keep what the document now says: deleted
text, which ODF parks in ``<text:tracked-changes>``, is left out. RTF is read by a small tokenizer of
its own rather than ``striprtf``, because striprtf drops footnotes, headers and text boxes and cannot
join UTF-16 surrogate pairs; code pages follow ``\\ansicpg`` and each font's ``\\fcharset``.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ragd.index.errors import ParseError
from ragd.index.models import Document, Part
from ragd.index.parse.container import attr, find_member, local, open_zip, parse_xml, read_member
from ragd.index.parse.docx import HeadedParts

_SPACES = re.compile(r"[ \t\xa0]+")

# --------------------------------------------------------------------------------------------- ODT

_ODT_SKIP = frozenset({"tracked-changes", "note-citation", "ruby-text", "annotation", "annotation-end",
                       "bookmark", "bookmark-start", "bookmark-end", "reference-mark", "sequence-decls",
                       "variable-decls", "user-field-decls", "forms", "table-of-content-source",
                       "alphabetical-index-source", "illustration-index-source", "change", "change-start",
                       "change-end", "soft-page-break", "title", "desc"})
_ODT_NOTE_LABELS = {"footnote": "Footnotes", "endnote": "Endnotes"}


class _OdtBody(HeadedParts):
    """Walks ``office:text`` into parts; notes and comments are gathered for the end."""

    def __init__(self) -> None:
        super().__init__()
        self.notes: list[Part] = []

    def blocks(self, container: Any, kind: str = "text", heading: tuple[str, ...] | None = None) -> None:
        for child in container:
            tag = local(child.tag)
            if tag in ("p", "h"):
                self.paragraph(child, tag, kind, heading)
            elif tag == "table":
                self.table(child, heading)
            elif tag in _ODT_SKIP:
                continue
            else:  # list, list-item, section, index bodies, frames, text boxes ...
                self.blocks(child, kind, heading)

    def paragraph(self, p: Any, tag: str, kind: str, heading: tuple[str, ...] | None) -> None:
        out: list[str] = []
        boxes: list[Any] = []
        self.inline(p, out, boxes)
        text = _SPACES.sub(" ", "".join(out)).strip()
        if text and tag == "h" and heading is None:
            level_text = attr(p, "outline-level") or "1"
            self.heading(int(level_text) if level_text.isdigit() else 1, text)
        elif text:
            self.parts.append(Part(text, heading=self.path if heading is None else heading, kind=kind))
        for box in boxes:
            self.blocks(box, kind, heading)

    def inline(self, el: Any, out: list[str], boxes: list[Any]) -> None:
        if el.text:
            out.append(el.text)
        for child in el:
            tag = local(child.tag)
            if tag == "s":
                count = attr(child, "c") or "1"
                out.append(" " * min(int(count) if count.isdigit() else 1, 100))
            elif tag == "tab":
                out.append("\t")
            elif tag == "line-break":
                out.append("\n")
            elif tag == "note":
                self.note(child)
            elif tag in ("frame", "text-box"):
                boxes.append(child)
            elif tag == "annotation":
                self.comment(child)
            elif tag and tag not in _ODT_SKIP:
                self.inline(child, out, boxes)
            if child.tail:
                out.append(child.tail)

    def note(self, note: Any) -> None:
        label = _ODT_NOTE_LABELS.get(attr(note, "note-class") or "footnote", "Footnotes")
        for child in note:
            if local(child.tag) == "note-body":
                body = _OdtBody()
                body.blocks(child, "footnote", (label,))
                self.notes.extend(body.parts + body.notes)

    def comment(self, annotation: Any) -> None:
        body = _OdtBody()
        body.blocks(annotation, "comment", ("Comments",))
        self.notes.extend(body.parts)

    def table(self, table: Any, heading: tuple[str, ...] | None) -> None:
        for row in _within(table, ("table-row",), ("table",)):  # a nested table's rows: in its cell's text
            cells = []
            for cell in row:
                if local(cell.tag) != "table-cell":
                    continue
                out: list[str] = []
                for el in _within(cell, ("p", "h"), ()):  # the notes' and comments' paragraphs come apart
                    self.inline(el, out, [])
                    out.append(" ")
                cells.append(" ".join("".join(out).split()))
            if any(cells):
                where = self.path if heading is None else heading
                self.parts.append(Part(" | ".join(c for c in cells if c), heading=where, kind="table"))


def _within(el: Any, tags: tuple[str, ...], skip: tuple[str, ...]) -> Iterator[Any]:
    """Descendants of ``el`` with these tags, not looking into notes, comments or the ``skip`` elements."""
    for child in el:
        tag = local(child.tag)
        if tag in tags:
            yield child
        elif tag not in ("note", "annotation", *skip):
            yield from _within(child, tags, skip)


def _odt_meta(archive: Any) -> tuple[str | None, dict[str, str]]:
    name = find_member(archive, "meta.xml")
    data = read_member(archive, name) if name else None
    title: str | None = None
    meta: dict[str, str] = {}
    if not data:
        return title, meta
    for el in parse_xml(data, "meta.xml").iter():
        tag, text = local(el.tag), " ".join((el.text or "").split())
        if not text:
            continue
        if tag == "title":
            title = title or text
        elif tag in ("creator", "initial-creator") and "author" not in meta:
            meta["author"] = text
        elif tag in ("subject", "language"):
            meta[tag] = text
        elif tag == "creation-date":
            meta["date"] = text
    return title, meta


def parse_odt(data: bytes) -> Document:
    archive = open_zip(data, "ODT")
    manifest = find_member(archive, "META-INF/manifest.xml")
    if manifest and b"encryption-data" in (read_member(archive, manifest) or b""):
        raise ParseError("encrypted ODT: password-protected documents are not supported")
    name = find_member(archive, "content.xml")
    if name is None:
        raise ParseError("damaged ODT: no content.xml")
    root = parse_xml(read_member(archive, name) or b"", name)
    body = _OdtBody()
    for el in root.iter():
        if local(el.tag) == "text" and el.getparent() is not None and local(el.getparent().tag) == "body":
            body.blocks(el)
    title, meta = _odt_meta(archive)
    return Document(parts=body.parts + body.notes, title=title or body.first_heading, meta=meta)


class OdtParser:
    suffixes: tuple[str, ...] = (".odt", ".ott")

    def parse(self, path: Path, data: bytes) -> list[Document]:
        return [parse_odt(data)]


# --------------------------------------------------------------------------------------------- RTF

_RTF_TOKEN = re.compile(
    rb"\\([a-zA-Z]{1,32})(-?\d{1,10})? ?|\\'([0-9a-fA-F]{2})|\\([^a-zA-Z])|([{}])|[\r\n]+|([^\\{}\r\n]+)")
# Destinations whose text is not the document's (fonts, styles, pictures, field codes, revision tables ...).
_RTF_IGNORED = frozenset({
    "fonttbl", "colortbl", "stylesheet", "listtable", "listoverridetable", "revtbl", "rsidtbl", "generator",
    "pict", "object", "objdata", "fldinst", "datafield", "themedata", "colorschememapping", "latentstyles",
    "datastore", "xmlnstbl", "mmathPr", "pgptbl", "shprslt", "sp", "sn", "sv", "bkmkstart",
    "bkmkend", "ftnsep", "ftnsepc", "ftncn", "aftnsep", "aftnsepc", "aftncn", "pntext", "pntxta", "pntxtb",
    "listtext", "falt", "panose", "filetbl", "private", "xe", "tc", "nonshppict", "blipuid", "protusertbl",
    "userprops", "docvar", "wgrffmtfilter", "template", "atnid", "atnauthor", "atnref", "atndate",
    "annotation", "operator", "creatim", "revtim", "printim", "buptim", "version", "vern", "edmins",
    "nofpages", "nofwords", "nofchars", "nofcharsws", "id", "hlinkbase", "doccomm", "company", "manager",
    "category", "comment", "passwordhash", "password", "ud", "upr",
})
_RTF_STREAMS = {"footnote": "Footnotes", "header": "Headers and footers", "headerl": "Headers and footers",
                "headerr": "Headers and footers", "headerf": "Headers and footers",
                "footer": "Headers and footers", "footerl": "Headers and footers",
                "footerr": "Headers and footers", "footerf": "Headers and footers"}
_RTF_INFO = {"title": "title", "author": "author", "subject": "subject", "keywords": "keywords"}
_RTF_KNOWN = frozenset({"shpinst", "shptxt", *_RTF_STREAMS})  # read even when marked \\* (ignorable)
_RTF_SPECIAL = {"par": "\n", "line": "\n", "sect": "\n", "page": "\n", "row": "\n", "tab": "\t",
                "cell": " | ", "nestcell": " | ", "emdash": "\u2014", "endash": "\u2013", "emspace": "\u2003",
                "enspace": "\u2002", "qmspace": "\u2005", "bullet": "\u2022", "lquote": "\u2018",
                "rquote": "\u2019", "ldblquote": "\u201c", "rdblquote": "\u201d"}
_RTF_SYMBOL = {"~": "\xa0", "-": "", "_": "\u2011", "\\": "\\", "{": "{", "}": "}", "\n": "\n", "\r": "\n"}
# \fcharset -> code page; 0 (ANSI) and 1 (default) mean the document's \ansicpg.
_CHARSETS = {2: "cp1252", 77: "mac_roman", 128: "cp932", 129: "cp949", 130: "johab", 134: "gbk", 136: "cp950",
             161: "cp1253", 162: "cp1254", 163: "cp1258", 177: "cp1255", 178: "cp1256", 186: "cp1257",
             204: "cp1251", 222: "cp874", 238: "cp1250", 254: "cp437", 255: "cp850"}
_FONT_ENTRY = re.compile(rb"\\f(\d+)[^;{}]*?\\fcharset(\d+)")
MAX_RTF_GROUP_DEPTH = 1000


def _codec(name: str, fallback: str = "cp1252") -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return fallback


class _RtfState:
    __slots__ = ("codec", "dest", "uc")

    def __init__(self, dest: str | None, uc: int, codec: str) -> None:
        self.dest, self.uc, self.codec = dest, uc, codec


def _rtf_text(data: bytes) -> dict[str, list[str]]:
    """The text pieces by stream: 'body', 'Footnotes', 'Headers and footers', 'title', 'author' ..."""
    doc_codec = "cp1252"
    head = data[:4096]
    found = re.search(rb"\\ansicpg(\d+)", head)
    if found:
        doc_codec = _codec(f"cp{int(found.group(1))}")
    elif b"\\mac" in head[:200]:
        doc_codec = "mac_roman"
    fonts: dict[bytes, str] = {}
    table = data.find(b"\\fonttbl")
    if table >= 0:
        for fid, charset in _FONT_ENTRY.findall(data[table : table + 200_000]):
            number = int(charset)
            fonts[fid] = doc_codec if number in (0, 1) else _CHARSETS.get(number, doc_codec)
    streams: dict[str, list[str]] = {"body": []}
    state = _RtfState("body", 1, doc_codec)
    stack: list[_RtfState] = []
    pending = bytearray()
    skip = 0
    starred = False
    started = False
    pos = 0
    size = len(data)

    def emit(text: str) -> None:
        if state.dest is not None:
            streams.setdefault(state.dest, []).append(text)

    def flush_bytes() -> None:
        if pending:
            emit(bytes(pending).decode(state.codec, errors="replace"))
            pending.clear()

    while pos < size:
        match = _RTF_TOKEN.match(data, pos)
        if match is None:
            pos += 1
            continue
        pos = match.end()
        word, arg, hexa, symbol, brace, text = match.groups()
        if hexa is None and pending:
            flush_bytes()
        if brace == b"{":
            if len(stack) >= MAX_RTF_GROUP_DEPTH:
                raise ParseError("refused: RTF groups nested too deeply")
            stack.append(state)
            state = _RtfState(state.dest, state.uc, state.codec)
            started = True
            skip = 0
        elif brace == b"}":
            if not stack:
                if started:
                    break
                continue
            state = stack.pop()
            skip = 0
            if not stack and started:
                break
        elif word is not None:
            name = word.decode("ascii")
            was_starred, starred = starred, False
            if name == "bin" and arg:
                pos += max(0, int(arg))
                continue
            if name == "info":
                state.dest = "info"
                continue
            if name in _RTF_INFO and stack and stack[-1].dest == "info":
                state.dest = _RTF_INFO[name]
                continue
            if name in _RTF_IGNORED or (was_starred and name not in _RTF_KNOWN):
                state.dest = None
                continue
            if name in _RTF_STREAMS and state.dest is not None:
                state.dest = _RTF_STREAMS[name]
                continue
            if name == "f" and arg:
                state.codec = fonts.get(arg, doc_codec)
            elif name == "uc" and arg:
                state.uc = max(0, int(arg))
            elif name == "u" and arg:
                value = int(arg)
                emit(chr(value + 0x10000 if value < 0 else value))
                skip = state.uc
                continue
            elif name in _RTF_SPECIAL:
                emit(_RTF_SPECIAL[name])
            skip = 0
        elif symbol is not None:
            char = symbol.decode("latin-1")
            if char == "*":
                starred = True  # the next destination is skipped unless it is known
            elif char in _RTF_SYMBOL:
                emit(_RTF_SYMBOL[char])
            skip = 0
        elif hexa is not None:
            if skip:
                skip -= 1
            elif state.dest is not None:
                pending.append(int(hexa, 16))
        elif text is not None:
            if skip:
                dropped = min(skip, len(text))
                skip -= dropped
                text = text[dropped:]
            if text:
                emit(text.decode(state.codec, errors="replace"))
    flush_bytes()
    return streams


def _joined(pieces: list[str]) -> str:
    """The pieces as one string, UTF-16 surrogate pairs (``\\u-10179\\u-8398``) joined into one character."""
    text = "".join(pieces)
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", errors="replace")
    return text


def parse_rtf(data: bytes) -> Document:
    if not data.lstrip()[:5] == b"{\\rtf":
        raise ParseError("not an RTF file (no {\\rtf header)")
    streams = _rtf_text(data)
    parts: list[Part] = []
    for name, pieces in streams.items():
        if name == "info" or name in _RTF_INFO.values():
            continue
        heading = () if name == "body" else (name,)
        kind = "text" if name == "body" else ("footnote" if name == "Footnotes" else "header")
        seen: set[str] = set()
        for line in _joined(pieces).split("\n"):
            text = _SPACES.sub(" ", line).strip(" |")
            if not text.strip():
                continue
            if name != "body" and text in seen:
                continue  # the same header on every section
            seen.add(text)
            parts.append(Part(text.strip(), heading=heading, kind=kind))
    meta: dict[str, str] = {key: " ".join(_joined(streams[key]).split()) for key in ("author", "subject", "keywords")
            if key in streams and _joined(streams[key]).strip()}
    title = " ".join(_joined(streams.get("title", [])).split()) or None
    return Document(parts=parts, title=title, meta=meta)


class RtfParser:
    suffixes: tuple[str, ...] = (".rtf",)

    def parse(self, path: Path, data: bytes) -> list[Document]:
        return [parse_rtf(data)]
