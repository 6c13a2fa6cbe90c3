"""Presentations (PPTX through python-pptx, ODP straight from its XML): one document, parts per slide.

A slide's title is the heading of its parts (it is indexed with them and shown with a hit) rather than a
part of its own: the chunker closes a chunk at a heading part and drops its text, and a slide's few lines
belong together. A slide with a title and nothing else keeps the title as its text, so it can still be found.
Each shape's text is one part: text boxes, placeholders and shapes inside groups, tables (a row per line,
``a | b | c``), charts (title, series with their categories and values: a chart can be a slide's only
text), SmartArt (its text lives in a diagram part of its own). Speaker notes follow as ``kind="notes"``
parts prefixed ``Notes:``.

Text that the masters and layouts put on every slide (a footer, a confidentiality line) is read once, at the
end, under the heading "Master slides": the audience sees it, Tika reports it, and once is enough to find
it. Placeholders on masters hold prompts ("Click to edit ...") and are skipped.

Zip bombs are refused before anything is decompressed (``container.open_zip``); XML is parsed without
entity expansion or network access (python-pptx's own parser does not resolve entities; ODP goes through
``container.parse_xml``).
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ragd.index.errors import ParseError
from ragd.index.models import Document, Part
from ragd.index.parse.container import attr, find_member, local, open_zip, parse_xml, read_member

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
MASTER_HEADING = "Master slides"
MAX_CHART_POINTS = 200  # values read per series: a chart's text, not its data set
_SPACES = re.compile(r"[ \t\xa0\u000b]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")

__all__ = ["SlidesParser"]


def _clean(text: str) -> str:
    """Runs of spaces to one (vertical tabs are PowerPoint's soft line breaks), no blank lines."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.replace("\x0b", "\n").split("\n"))
    return "\n".join(line for line in lines if line)


class _Slide:
    """The parts of one slide, its title kept apart until the end."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.title = ""
        self.parts: list[tuple[str, str]] = []  # (kind, text)

    def add(self, text: str, kind: str = "text") -> None:
        text = _clean(text)
        if text:
            self.parts.append((kind, text))

    def emit(self) -> list[Part]:
        heading = (self.title,) if self.title else ()
        items = self.parts
        if self.title and not any(kind != "notes" for kind, _ in items):
            items = [("text", self.title), *items]
        return [Part(text, heading=heading, kind=kind, slide=self.number) for kind, text in items]


def _masters_part(texts: Iterable[str]) -> list[Part]:
    seen: list[str] = []
    for text in texts:
        text = _clean(text)
        if text and text not in seen:
            seen.append(text)
    return [Part("\n".join(seen), heading=(MASTER_HEADING,), kind="text")] if seen else []


def _check_container(data: bytes, what: str) -> zipfile.ZipFile:
    if data.startswith(OLE_MAGIC):
        if _ENCRYPTION_INFO in data:
            raise ParseError(f"encrypted {what}: password-protected presentations are not supported")
        raise ParseError(f"not a {what} file (a legacy .ppt or other OLE container)")
    return open_zip(data, what)


# --- PPTX -----------------------------------------------------------------------------------------------------


def _table_text(table: Any) -> str:
    lines = []
    for row in table.rows:
        cells = [" ".join(cell.text.split()) for cell in row.cells]
        if any(cells):
            lines.append(" | ".join(c for c in cells if c))
    return "\n".join(lines)


def _number(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "" if value is None else str(value)


def _chart_text(chart: Any) -> str:
    lines = []
    if chart.has_title and chart.chart_title.has_text_frame:
        lines.append(chart.chart_title.text_frame.text)
    for plot in chart.plots:
        categories = [str(c) for c in plot.categories][:MAX_CHART_POINTS]
        for series in plot.series:
            values = list(series.values)[:MAX_CHART_POINTS]
            if categories and len(categories) == len(values):
                points = ", ".join(f"{c} {_number(v)}".strip() for c, v in zip(categories, values, strict=True))
            else:
                points = ", ".join(_number(v) for v in values)
            lines.append(f"{series.name}: {points}" if series.name else points)
    return "\n".join(lines)


def _diagram_text(shape: Any, slide: Any) -> str:
    """SmartArt: the text of the diagram's data part (python-pptx does not read diagrams)."""
    lines: list[str] = []
    for el in shape._element.iter():
        if local(el.tag) != "relIds":
            continue
        rid = attr(el, "dm")
        if not rid or rid not in slide.part.rels:
            continue
        root = parse_xml(slide.part.related_part(rid).blob, "a SmartArt diagram")
        for para in root.iter():
            if local(para.tag) == "p":
                lines.append("".join(t.text or "" for t in para.iter() if local(t.tag) == "t"))
    return "\n".join(lines)


def _shape_texts(shapes: Iterable[Any], slide: Any, skip: Any = None) -> Iterator[tuple[str, str]]:
    """(kind, text) of every shape, group members in order, the title shape ``skip`` left out."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE, PP_PLACEHOLDER

    for shape in shapes:
        if skip is not None and shape.shape_id == skip:
            continue
        if shape.is_placeholder and shape.placeholder_format.type in (PP_PLACEHOLDER.SLIDE_NUMBER,
                                                                      PP_PLACEHOLDER.DATE):
            continue  # a page number or today's date: nothing anyone searches for
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shape_texts(shape.shapes, slide)
        elif getattr(shape, "has_table", False):
            yield "table", _table_text(shape.table)
        elif getattr(shape, "has_chart", False):
            yield "table", _chart_text(shape.chart)
        elif getattr(shape, "has_text_frame", False):
            yield "text", shape.text_frame.text
        elif local(shape._element.tag) == "graphicFrame":
            yield "text", _diagram_text(shape, slide)


def _notes_text(slide: Any) -> str:
    """The notes page's text: its body, and its header and footer (not the slide number or the slide picture)."""
    from pptx.enum.shapes import PP_PLACEHOLDER

    skip = {PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.SLIDE_IMAGE, PP_PLACEHOLDER.DATE}
    if not slide.has_notes_slide:
        return ""
    out = []
    for shape in slide.notes_slide.shapes:
        if shape.is_placeholder and shape.placeholder_format.type in skip:
            continue
        if getattr(shape, "has_text_frame", False):
            out.append(shape.text_frame.text)
    return _clean("\n".join(out))


def parse_pptx(data: bytes) -> Document:
    from pptx import Presentation
    from pptx.exc import PackageNotFoundError

    _check_container(data, "PPTX").close()
    try:
        deck = Presentation(io.BytesIO(data))
    except (PackageNotFoundError, KeyError, zipfile.BadZipFile) as exc:
        raise ParseError(f"damaged PPTX: {type(exc).__name__}: {exc}") from None
    parts: list[Part] = []
    masters: list[str] = []
    for number, slide in enumerate(deck.slides, 1):
        page = _Slide(number)
        title_shape = slide.shapes.title
        if title_shape is not None and title_shape.has_text_frame:
            page.title = " ".join(title_shape.text_frame.text.split())
        for kind, text in _shape_texts(slide.shapes, slide, title_shape.shape_id if title_shape is not None else None):
            page.add(text, kind)
        notes = _notes_text(slide)
        if notes:
            page.add(f"Notes: {notes}", "notes")
        parts.extend(page.emit())
    for master in deck.slide_masters:
        for holder in (master, *master.slide_layouts):
            for shape in holder.shapes:
                if not shape.is_placeholder and getattr(shape, "has_text_frame", False):
                    masters.append(shape.text_frame.text)
    parts.extend(_masters_part(masters))
    title = deck.core_properties.title
    return Document(parts=parts, title=" ".join(title.split()) if title and title.strip() else None)


# --- ODP ------------------------------------------------------------------------------------------------------

_ODF_SKIP = frozenset({"title", "desc", "note-citation", "notes", "forms", "page-thumbnail", "event-listeners",
                       "page-number", "page-count"})
_ODF_BLOCKS = frozenset({"p", "h"})
_ODF_FIELDS = frozenset({"page-number", "date-time"})  # frames that show a page number or a date


def _odf_inline(el: Any, out: list[str]) -> None:
    """The text of a paragraph: spans, spaces (``text:s``), tabs and line breaks."""
    if el.text:
        out.append(el.text)
    for child in el:
        tag = local(child.tag)
        if tag == "s":
            out.append(" " * min(int(attr(child, "c") or 1), 100) if (attr(child, "c") or "1").isdigit() else " ")
        elif tag == "tab":
            out.append("\t")
        elif tag == "line-break":
            out.append("\n")
        elif tag not in _ODF_SKIP:
            _odf_inline(child, out)
        if child.tail:
            out.append(child.tail)


def _odf_paragraphs(el: Any) -> list[str]:
    """The paragraphs under ``el`` in order, tables and notes left out."""
    lines: list[str] = []
    for child in el:
        tag = local(child.tag)
        if tag in _ODF_SKIP or tag == "table":
            continue
        if tag in _ODF_BLOCKS:
            out: list[str] = []
            _odf_inline(child, out)
            lines.append("".join(out))
        else:
            lines.extend(_odf_paragraphs(child))
    return lines


def _odf_table(table: Any) -> str:
    lines = []
    for row in table.iter():
        if local(row.tag) != "table-row":
            continue
        cells = [" ".join(" ".join(_odf_paragraphs(c)).split()) for c in row if local(c.tag) == "table-cell"]
        if any(cells):
            lines.append(" | ".join(c for c in cells if c))
    return "\n".join(lines)


def _odf_shapes(container: Any, page: _Slide) -> None:
    """Each shape's text as a part; the title frame sets the slide's title; groups are walked."""
    for shape in container:
        tag = local(shape.tag)
        if tag in _ODF_SKIP or attr(shape, "class") in _ODF_FIELDS:
            continue
        if tag == "g":
            _odf_shapes(shape, page)
            continue
        if attr(shape, "class") == "title" and not page.title:
            page.title = " ".join(" ".join(_odf_paragraphs(shape)).split())
            continue
        tables = [t for t in shape.iter() if local(t.tag) == "table"]
        page.add("\n".join(_odf_paragraphs(shape)))
        for table in tables:
            page.add(_odf_table(table), "table")


def _odf_notes(notes: Any) -> str:
    out = []
    for shape in notes:
        if local(shape.tag) != "page-thumbnail" and attr(shape, "class") not in _ODF_FIELDS:
            out.append("\n".join(_odf_paragraphs(shape)))
    return _clean("\n".join(out))


def _odf_masters(styles: Any, used: set[str]) -> list[str]:
    """Text on the master pages the slides use, placeholders (empty prompts) and notes pages left out."""
    texts: list[str] = []
    for master in styles.iter():
        if local(master.tag) != "master-page" or (attr(master, "name") or "") not in used:
            continue
        for shape in master:
            if local(shape.tag) in _ODF_SKIP or attr(shape, "placeholder") == "true" \
                    or attr(shape, "class") in _ODF_FIELDS:
                continue
            texts.append("\n".join(_odf_paragraphs(shape)))
    return texts


def parse_odp(data: bytes) -> Document:
    archive = _check_container(data, "ODP")
    content_name = find_member(archive, "content.xml")
    content = read_member(archive, content_name) if content_name else None
    if not content:
        raise ParseError("damaged ODP: no content.xml")
    root = parse_xml(content, "content.xml")
    parts: list[Part] = []
    used: set[str] = set()
    footers: dict[str, str] = {}
    pages = [el for el in root.iter() if local(el.tag) == "page" and local(el.getparent().tag) == "presentation"]
    for el in root.iter():
        if local(el.tag) == "footer-decl":
            footers[attr(el, "name") or ""] = "".join(el.itertext())
    masters: list[str] = []
    for number, element in enumerate(pages, 1):
        used.add(attr(element, "master-page-name") or "")
        footer = footers.get(attr(element, "use-footer-name") or "\0")
        if footer:
            masters.append(footer)
        page = _Slide(number)
        _odf_shapes(element, page)
        for notes in element:
            if local(notes.tag) == "notes":
                text = _odf_notes(notes)
                if text:
                    page.add(f"Notes: {text}", "notes")
        parts.extend(page.emit())
    styles_name = find_member(archive, "styles.xml")
    styles = read_member(archive, styles_name) if styles_name else None
    if styles:
        masters = _odf_masters(parse_xml(styles, "styles.xml"), used) + masters
    parts.extend(_masters_part(masters))
    return Document(parts=parts, title=_odf_title(archive))


def _odf_title(archive: zipfile.ZipFile) -> str | None:
    name = find_member(archive, "meta.xml")
    data = read_member(archive, name) if name else None
    if not data:
        return None
    for el in parse_xml(data, "meta.xml").iter():
        if local(el.tag) == "title" and el.text and el.text.strip():
            return " ".join(el.text.split())
    return None


class SlidesParser:
    """PowerPoint and OpenDocument presentations."""

    suffixes: tuple[str, ...] = (".pptx", ".odp")

    def parse(self, path: Path, data: bytes) -> list[Document]:
        if path.suffix.lower() == ".odp":
            return [parse_odp(data)]
        return [parse_pptx(data)]
