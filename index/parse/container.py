"""Safe access to zip containers (DOCX, EPUB) and the XML inside them.

The central directory is checked before anything is decompressed (member count,
total declared size, compression ratio), and every read is capped again, since a
hostile archive can lie in its directory. XML is parsed without DTD loading,
entity expansion or network access.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from ragd.index.errors import ParseError

MAX_MEMBERS = 10_000
MAX_TOTAL_BYTES = 1 << 30  # declared uncompressed size of all members
MAX_MEMBER_BYTES = 256 << 20  # one member, as read
MAX_RATIO = 200  # uncompressed / compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 4 << 20


def open_zip(data: bytes, what: str) -> zipfile.ZipFile:
    """Open ``data`` as a zip archive after checking its directory for bombs."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise ParseError(f"damaged {what} (not a readable zip container: {exc})") from None
    if len(infos) > MAX_MEMBERS:
        raise ParseError(f"refused: zip bomb ({len(infos)} members, limit {MAX_MEMBERS})")
    total = sum(i.file_size for i in infos)
    if total > MAX_TOTAL_BYTES:
        limit = MAX_TOTAL_BYTES >> 20
        raise ParseError(f"refused: zip bomb ({total >> 20} MB uncompressed, limit {limit} MB)")
    for info in infos:
        if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            ratio = info.file_size // max(info.compress_size, 1)
            raise ParseError(f"refused: zip bomb ({info.filename}: compression ratio {ratio}:1)")
    return archive


def read_member(archive: zipfile.ZipFile, name: str, limit: int = MAX_MEMBER_BYTES) -> bytes | None:
    """The bytes of member ``name`` (None if absent), refusing more than ``limit`` bytes."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.flag_bits & 0x1:
        raise ParseError(f"encrypted zip member: {name}")
    if info.file_size > limit:
        raise ParseError(f"refused: zip bomb ({name}: {info.file_size >> 20} MB uncompressed)")
    try:
        with archive.open(info) as stream:
            data = stream.read(limit + 1)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
        raise ParseError(f"damaged zip member {name}: {exc}") from None
    if len(data) > limit:
        raise ParseError(f"refused: zip bomb ({name} expands past {limit >> 20} MB)")
    return data


def find_member(archive: zipfile.ZipFile, name: str) -> str | None:
    """The member's real name, matching case-insensitively (archives made on Windows vary)."""
    names = archive.namelist()
    if name in names:
        return name
    lowered = name.lower()
    return next((n for n in names if n.lower() == lowered), None)


def xml_parser(recover: bool = True) -> Any:
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                           remove_comments=True, remove_pis=True, recover=recover)


def parse_xml(data: bytes, what: str) -> Any:
    """The root element of an XML part; entity references stay unexpanded (and yield no text)."""
    from lxml import etree

    try:
        root = etree.fromstring(data, parser=xml_parser())
    except etree.XMLSyntaxError as exc:
        raise ParseError(f"damaged XML in {what}: {exc}") from None
    if root is None:
        raise ParseError(f"damaged XML in {what}: no content")
    return root


def local(tag: object) -> str:
    """An element's tag without its namespace ('' for comments and entities)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def attr(el: Any, name: str) -> str | None:
    """An attribute by local name, whatever its namespace (transitional or strict OOXML)."""
    for key, value in el.attrib.items():
        if key == name or key.endswith("}" + name):
            return str(value)
    return None
