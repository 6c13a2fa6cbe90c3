"""EPUB: the spine's chapters in reading order, each under its table-of-contents title.

Read with zipfile and lxml (no DTDs, no entity expansion, no network); chapter XHTML
goes through the HTML block walker. Parts have no line spans (the lines of a chapter
file inside the archive mean nothing to a reader of the .epub).
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from ragd.index.errors import ParseError
from ragd.index.models import Document, Part
from ragd.index.parse.container import attr, find_member, local, open_zip, parse_xml, read_member
from ragd.index.parse.html import html_parser, tree_to_document

_DOCUMENT_TYPES = ("application/xhtml+xml", "text/html", "application/xml", "text/xml")
_DOCUMENT_SUFFIXES = (".xhtml", ".html", ".htm", ".xml")
MAX_CHAPTERS = 5000


def _join(base: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(base, unquote(href.partition("#")[0])))


def _text(el: Any) -> str:
    return " ".join("".join(el.itertext()).split())


def _toc(archive: zipfile.ZipFile, member: str | None, nav: bool) -> dict[str, str]:
    """Chapter file -> its first title in the EPUB 3 nav document or the EPUB 2 NCX."""
    data = read_member(archive, member) if member else None
    titles: dict[str, str] = {}
    if not data or not member:
        return titles
    base = posixpath.dirname(member)
    try:
        root = parse_xml(data, member)
    except ParseError:
        return titles
    if nav:
        for a in root.iter():
            if local(a.tag) == "a" and attr(a, "href"):
                titles.setdefault(_join(base, attr(a, "href") or ""), _text(a))
        return {k: v for k, v in titles.items() if v}
    for point in root.iter():
        if local(point.tag) != "navPoint":
            continue
        label = next((_text(el) for el in point.iter() if local(el.tag) == "text"), "")
        src = next((attr(el, "src") for el in point if local(el.tag) == "content"), None)
        if src and label:
            titles.setdefault(_join(base, src), label)
    return titles


def _chapter_root(data: bytes, member: str) -> Any:
    from lxml import etree, html

    try:
        root = parse_xml(data, member)
        if local(root.tag).lower() == "html":
            return root
    except ParseError:
        pass
    try:
        return html.document_fromstring(data, parser=html_parser())
    except (etree.ParserError, ValueError):
        return None


def parse_epub(data: bytes) -> Document:
    archive = open_zip(data, "EPUB")
    container = read_member(archive, "META-INF/container.xml")
    opf_name = None
    if container:
        opf_name = next((attr(el, "full-path") for el in parse_xml(container, "container.xml").iter()
                         if local(el.tag) == "rootfile"), None)
    opf_name = find_member(archive, opf_name or "") or next(
        (n for n in archive.namelist() if n.lower().endswith(".opf")), None)
    if not opf_name:
        raise ParseError("damaged EPUB: no package document (.opf)")
    opf = parse_xml(read_member(archive, opf_name) or b"", opf_name)
    base = posixpath.dirname(opf_name)

    manifest: dict[str, tuple[str, str, str]] = {}  # id -> (member, media type, properties)
    spine: list[str] = []
    toc_id = None
    meta: dict[str, str] = {}
    title = None
    for el in opf.iter():
        tag = local(el.tag)
        if tag == "item" and attr(el, "id") and attr(el, "href"):
            href, props = _join(base, attr(el, "href") or ""), attr(el, "properties") or ""
            manifest[attr(el, "id") or ""] = (href, attr(el, "media-type") or "", props)
        elif tag == "itemref" and attr(el, "idref") and attr(el, "linear") != "no":
            spine.append(attr(el, "idref") or "")
        elif tag == "spine":
            toc_id = attr(el, "toc")
        elif tag == "title" and title is None and el.text and el.text.strip():
            title = " ".join(el.text.split())
        elif tag in ("creator", "language", "publisher") and el.text and el.text.strip():
            meta.setdefault("author" if tag == "creator" else tag, " ".join(el.text.split()))

    nav_item = next((m for m, _, props in manifest.values() if "nav" in props.split()), None)
    toc = _toc(archive, find_member(archive, nav_item), nav=True) if nav_item else {}
    if not toc and toc_id in manifest:
        toc = _toc(archive, find_member(archive, manifest[toc_id or ""][0]), nav=False)

    parts: list[Part] = []
    for idref in spine[:MAX_CHAPTERS]:
        if idref not in manifest:
            continue
        href, media_type, properties = manifest[idref]
        if "nav" in properties.split():
            continue  # the table of contents page repeats the chapter titles
        if media_type not in _DOCUMENT_TYPES and not href.lower().endswith(_DOCUMENT_SUFFIXES):
            continue
        member = find_member(archive, href)
        chapter_data = read_member(archive, member) if member else None
        root = _chapter_root(chapter_data, href) if chapter_data else None
        if root is None:
            continue
        chapter = toc.get(href)
        doc = tree_to_document(root, base_heading=(chapter,) if chapter else (), with_lines=False)
        if chapter:
            parts.append(Part(chapter, heading=(chapter,), kind="heading"))
        for part in doc.parts:
            heading = part.heading
            if chapter and heading[1:2] == (chapter,):  # the chapter's own <h1> repeats its TOC title
                heading = heading[:1] + heading[2:]
                if part.kind == "heading" and heading == (chapter,):
                    continue
            parts.append(Part(part.text, heading=heading, kind=part.kind))
    return Document(parts=parts, title=title, meta=meta)


class EpubParser:
    suffixes: tuple[str, ...] = (".epub",)

    def parse(self, path: Path, data: bytes) -> list[Document]:
        return [parse_epub(data)]
