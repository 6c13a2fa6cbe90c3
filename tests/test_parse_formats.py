"""Parsers on small synthetic files: text, headings, line spans, pages, meta, refusals."""

from __future__ import annotations

import io
import time
import zipfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from ragd.index.errors import ParseError, UnsupportedFormat
from ragd.index.models import Document, Part
from ragd.index.parse import is_supported, parse_bytes, parse_file, parser_for, register
from ragd.index.parse.encoding import decode

JA = ("吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で"
      "ニャーニャー泣いていた事だけは記憶している。吾輩はここで始めて人間というものを見た。")
EN_1252 = "The café’s “special” crème brûlée costs €5 — naïve façade, señor."


def parse(tmp_path: Path, name: str, data: bytes) -> list[Document]:
    path = tmp_path / name
    path.write_bytes(data)
    docs: list[Document] = parse_file(path)
    return docs


def one(docs: list[Document]) -> Document:
    assert len(docs) == 1
    return docs[0]


def body(doc: Document) -> list[Part]:
    return [p for p in doc.parts if p.kind != "heading"]


# --- registry -----------------------------------------------------------------------------


class _Upper:
    suffixes: tuple[str, ...] = (".upper",)

    def parse(self, path: Path, data: bytes) -> list[Document]:
        return [Document(parts=[Part(data.decode().upper())])]


def test_registry_extension_and_unsupported(tmp_path: Path) -> None:
    assert parser_for(Path("x.upper")) is None
    register(_Upper())
    assert is_supported(Path("A.UPPER"))
    assert one(parse(tmp_path, "a.upper", b"hi")).parts[0].text == "HI"
    assert is_supported(Path("notes.md")) and is_supported(Path("a.PDF")) and is_supported(Path("m.mbox"))
    assert all(is_supported(Path(n)) for n in ("sheet.xlsx", "doc.rtf", "x.odt", "talk.pptx", "scan.tiff"))
    for name in ("sheet.numbers", "a.zip", "clip.mp4", "noext"):
        assert not is_supported(Path(name))
    with pytest.raises(UnsupportedFormat):
        parse(tmp_path, "sheet.numbers", b"PK")
    with pytest.raises(ParseError, match="cannot read"):
        parse_file(tmp_path / "missing.txt")


# --- text and encodings ---------------------------------------------------------------------


def test_text_blocks_have_exact_line_spans(tmp_path: Path) -> None:
    data = b"a1\na2\n\n  \nb1\r\nb2\r\rc1\n"
    doc = one(parse(tmp_path, "notes.txt", data))
    assert [(p.text, p.line_start, p.line_end) for p in doc.parts] == [
        ("a1\na2", 1, 2), ("b1\nb2", 5, 6), ("c1", 8, 8)]
    code = one(parse(tmp_path, "x.py", b"import os\n\n\ndef f():\n    return 1\n"))
    assert [(p.kind, p.line_start, p.line_end) for p in code.parts] == [("code", 1, 1), ("code", 4, 5)]


@pytest.mark.parametrize("codec", ["shift_jis", "euc_jp", "iso2022_jp", "utf-16", "utf-8-sig"])
def test_japanese_legacy_encodings_decode(tmp_path: Path, codec: str) -> None:
    text = f"第一章\n\n{JA}\n{JA}\n"
    doc = one(parse(tmp_path, "ja.txt", text.encode(codec)))
    assert doc.parts[0].text == "第一章"
    assert doc.parts[1].text == f"{JA}\n{JA}"
    assert (doc.parts[1].line_start, doc.parts[1].line_end) == (3, 4)


def test_western_and_cyrillic_legacy_encodings(tmp_path: Path) -> None:
    doc = one(parse(tmp_path, "w.txt", ((EN_1252 + "\n") * 3).encode("cp1252")))
    assert doc.parts[0].text.split("\n")[0] == EN_1252
    ru = "Однажды, в студёную зимнюю пору, я из лесу вышел; был сильный мороз.\n" * 3
    assert decode(ru.encode("cp866"))[0] == ru
    assert decode(ru.encode("cp1251"))[0] == ru


def test_utf16_without_bom_and_binary(tmp_path: Path) -> None:
    text, codec = decode("<p>Hello UTF-16 world</p>\n".encode("utf-16-le"))
    assert codec == "utf-16-le" and text.startswith("<p>Hello")
    with pytest.raises(ParseError, match="binary"):
        parse(tmp_path, "blob.txt", bytes(range(256)) * 20)


# --- markdown -------------------------------------------------------------------------------


MARKDOWN = """\
---
title: Front Title
---
# Guide

Intro line one
intro line two

Setup
-----

Run ![logo](data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA)

```python
print("# not a heading")
```

### Deep *detail* ###
Body under deep.
"""


def test_markdown_headings_code_and_lines(tmp_path: Path) -> None:
    doc = one(parse(tmp_path, "guide.md", MARKDOWN.encode()))
    assert doc.title == "Front Title"
    headings = [(p.text, p.line_start, p.line_end) for p in doc.parts if p.kind == "heading"]
    assert headings == [("Guide", 4, 4), ("Setup", 9, 10), ("Deep detail", 18, 18)]
    parts = body(doc)
    assert (parts[0].text, parts[0].line_start, parts[0].line_end) == ("Intro line one\nintro line two", 6, 7)
    assert parts[0].heading == ("Guide",)
    assert parts[1].heading == ("Guide", "Setup")
    assert "base64" not in parts[1].text and "iVBOR" not in parts[1].text
    code = [(p.text, p.line_start, p.heading) for p in parts if p.kind == "code"]
    assert code == [('print("# not a heading")', 15, ("Guide", "Setup"))]
    assert parts[-1].heading == ("Guide", "Setup", "Deep detail") and parts[-1].line_start == 19


# --- html -----------------------------------------------------------------------------------


HTML = """\
<html><head><title>Shop  Notes</title><style>p { color: red }</style>
<meta charset="shift_jis"></head>
<body><nav><a href="/">Home</a> <a href="/x">Menu</a></nav>
<h1>Main</h1>
<p>First paragraph
continues here.</p>
<script>var secret = "do not index";</script>
<h2>Prices</h2>
<table><tr><th>Item</th><th>Price</th></tr>
<tr><td>猫の本</td><td>1,200円</td></tr></table>
<p>Done &amp; dusted.</p>
</body></html>
"""


def test_html_title_headings_blocks_and_lines(tmp_path: Path) -> None:
    doc = one(parse(tmp_path, "page.html", HTML.encode("shift_jis")))
    assert doc.title == "Shop Notes"
    text = "\n".join(p.text for p in doc.parts)
    assert "Home" not in text and "secret" not in text and "color" not in text
    first = next(p for p in doc.parts if p.text.startswith("First"))
    assert (first.text, first.line_start, first.line_end, first.heading) == (
        "First paragraph\ncontinues here.", 5, 6, ("Main",))
    rows = [p for p in doc.parts if p.kind == "table"]
    assert [(r.text, r.line_start, r.heading) for r in rows] == [
        ("Item | Price", 9, ("Main", "Prices")), ("猫の本 | 1,200円", 10, ("Main", "Prices"))]
    assert doc.parts[-1].text == "Done & dusted." and doc.parts[-1].line_start == 11


def test_html_one_long_line_and_unterminated_script(tmp_path: Path) -> None:
    html = "<html><body>" + "".join(f"<p>para {i}</p>" for i in range(20000)) + "<script>while(1){"
    doc = one(parse(tmp_path, "long.html", html.encode()))
    assert len(doc.parts) == 20000 and {p.line_start for p in doc.parts} == {1}


# --- docx -----------------------------------------------------------------------------------


def make_docx(path: Path) -> None:
    import docx

    d = docx.Document()
    d.core_properties.title = "Quarterly Report"
    d.add_heading("Overview", level=1)
    d.add_paragraph("Sales grew in the north.")
    d.add_heading("Details", level=2)
    d.add_paragraph("日本語の段落です。")
    table = d.add_table(rows=2, cols=2)
    for r, row in enumerate([("Region", "Sales"), ("North", "42")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    d.add_heading("Appendix", level=1)
    d.add_paragraph("The end.")
    d.save(str(path))


def test_docx_paragraphs_headings_tables(tmp_path: Path) -> None:
    path = tmp_path / "report.docx"
    make_docx(path)
    doc = one(parse_file(path))
    assert doc.title == "Quarterly Report"
    got = [(p.kind, p.text, p.heading) for p in doc.parts]
    assert got == [
        ("heading", "Overview", ("Overview",)),
        ("text", "Sales grew in the north.", ("Overview",)),
        ("heading", "Details", ("Overview", "Details")),
        ("text", "日本語の段落です。", ("Overview", "Details")),
        ("table", "Region | Sales", ("Overview", "Details")),
        ("table", "North | 42", ("Overview", "Details")),
        ("heading", "Appendix", ("Appendix",)),
        ("text", "The end.", ("Appendix",)),
    ]
    assert all(p.line_start is None and p.page is None for p in doc.parts)


def rezip(src: Path, replace: dict[str, bytes], extra: dict[str, bytes] | None = None) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, replace.get(item.filename, zin.read(item.filename)))
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return out.getvalue()


def test_docx_entity_bomb_is_not_expanded(tmp_path: Path) -> None:
    src = tmp_path / "base.docx"
    make_docx(src)
    lol = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
    xml = (f'<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY l0 "lol">{lol}]>'
           '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
           '<w:p><w:r><w:t>before &l9; after</w:t></w:r></w:p></w:body></w:document>')
    data = rezip(src, {"word/document.xml": xml.encode()})
    started = time.monotonic()
    doc = one(parse(tmp_path, "bomb.docx", data))
    assert time.monotonic() - started < 5
    text = " ".join(p.text for p in doc.parts)
    assert "lol" not in text and "before" in text


def test_docx_zip_bomb_encrypted_and_damaged_are_refused(tmp_path: Path) -> None:
    src = tmp_path / "base.docx"
    make_docx(src)
    bomb = rezip(src, {}, {"word/media/zeros.bin": bytes(8 << 20)})
    with pytest.raises(ParseError, match="refused: zip bomb"):
        parse(tmp_path, "bomb.docx", bomb)
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 512 + "EncryptionInfo".encode("utf-16-le")
    with pytest.raises(ParseError, match="encrypted DOCX"):
        parse(tmp_path, "secret.docx", ole)
    with pytest.raises(ParseError, match="damaged DOCX"):
        parse(tmp_path, "cut.docx", src.read_bytes()[:300])


# --- epub -----------------------------------------------------------------------------------


def make_epub() -> bytes:
    chapter = """<?xml version="1.0" encoding="utf-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>{t}</title></head>
<body><h1>{t}</h1><p>{p}</p><h2>Scene</h2><p>More of {t}.</p></body></html>"""
    opf = """<?xml version="1.0"?>
<package xmlns="http://www.idpf.org/2007/opf" version="2.0"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">
<dc:title>Tiny Book</dc:title><dc:creator>A. Writer</dc:creator></metadata>
<manifest><item id="c1" href="text/one.xhtml" media-type="application/xhtml+xml"/>
<item id="c2" href="text/two.xhtml" media-type="application/xhtml+xml"/>
<item id="ncx" href="toc.ncx" media-type="application/x-dtbncx+xml"/></manifest>
<spine toc="ncx"><itemref idref="c1"/><itemref idref="c2"/></spine></package>"""
    ncx = """<?xml version="1.0"?><ncx xmlns="http://www.daisy.org/z3986/2005/ncx/"><navMap>
<navPoint id="n1"><navLabel><text>The Beginning</text></navLabel><content src="text/one.xhtml"/></navPoint>
<navPoint id="n2"><navLabel><text>The End</text></navLabel><content src="text/two.xhtml#top"/></navPoint>
</navMap></ncx>"""
    container = """<?xml version="1.0"?><container xmlns="urn:oasis:names:tc:opendocument:xmlns:container"
version="1.0"><rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>
</rootfiles></container>"""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("META-INF/container.xml", container)
        z.writestr("OEBPS/content.opf", opf)
        z.writestr("OEBPS/toc.ncx", ncx)
        z.writestr("OEBPS/text/one.xhtml", chapter.format(t="The Beginning", p="It was a dark night."))
        z.writestr("OEBPS/text/two.xhtml", chapter.format(t="Epilogue", p="All was well."))
    return out.getvalue()


def test_epub_chapters_in_spine_order_under_toc_titles(tmp_path: Path) -> None:
    doc = one(parse(tmp_path, "book.epub", make_epub()))
    assert doc.title == "Tiny Book" and doc.meta["author"] == "A. Writer"
    got = [(p.kind, p.text, p.heading) for p in doc.parts]
    assert got == [
        ("heading", "The Beginning", ("The Beginning",)),
        ("text", "It was a dark night.", ("The Beginning",)),
        ("heading", "Scene", ("The Beginning", "Scene")),
        ("text", "More of The Beginning.", ("The Beginning", "Scene")),
        ("heading", "The End", ("The End",)),
        ("heading", "Epilogue", ("The End", "Epilogue")),
        ("text", "All was well.", ("The End", "Epilogue")),
        ("heading", "Scene", ("The End", "Epilogue", "Scene")),
        ("text", "More of Epilogue.", ("The End", "Epilogue", "Scene")),
    ]


# --- mail -----------------------------------------------------------------------------------


def make_message(subject: str, body: str, html: str | None = None, charset: str = "utf-8") -> bytes:
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = "山田 太郎 <taro@example.jp>"
    msg["To"] = "hanako@example.jp"
    msg["Date"] = format_datetime(datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
    if body:
        msg.set_content(body, charset=charset, cte="8bit" if charset == "utf-8" else None)
    if html is not None:
        if body:
            msg.add_alternative(html, subtype="html")
        else:
            msg.set_content(html, subtype="html")
    return msg.as_bytes()


def test_eml_headers_decoded_and_html_fallback(tmp_path: Path) -> None:
    doc = one(parse(tmp_path, "a.eml", make_message("会議の件", "", html="<p>明日は<b>10時</b>です。</p>")))
    assert doc.title == "会議の件"
    assert doc.meta["sender"] == "山田 太郎 <taro@example.jp>"
    assert doc.meta["date"] == "2024-05-01T09:30:00+00:00"
    assert [p.text for p in doc.parts] == ["明日は10時です。"]
    jis = one(parse(tmp_path, "b.eml", make_message("件名", f"本文です。\n\n{JA}\n", charset="iso-2022-jp")))
    assert [p.text for p in jis.parts] == ["本文です。", JA]


def test_mbox_messages_keys_lines_and_from_quoting(tmp_path: Path) -> None:
    first = make_message("First", "Hello there.\n>From the archive, a quoted line.\n\nSecond paragraph.\n")
    second = make_message("Second", "Only line.\n", html="<p>Only line.</p>")
    mbox = (b"From taro@example.jp Wed May  1 09:30:00 2024\n" + first.replace(b"\r\n", b"\n") + b"\n"
            + b"From taro@example.jp Wed May  1 10:30:00 2024\n" + second.replace(b"\r\n", b"\n") + b"\n")
    docs = parse(tmp_path, "box.mbox", mbox)
    assert [(d.key, d.title) for d in docs] == [("0", "First"), ("1", "Second")]
    lines = mbox.decode().split("\n")
    p1, p2 = docs[0].parts
    assert p1.text == "Hello there.\nFrom the archive, a quoted line."
    assert lines[p1.line_start - 1] == "Hello there."
    assert lines[p1.line_end - 1].startswith(">From the archive")
    assert lines[p2.line_start - 1] == "Second paragraph." and p2.line_end == p2.line_start
    assert [p.text for p in docs[1].parts] == ["Only line."]  # multipart: the plain alternative


# --- pdf ------------------------------------------------------------------------------------


def make_pdf(pages: list[str], image: bool = False) -> bytes:
    """A minimal valid PDF, one line of Helvetica text per page (or an image-only page)."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>", b""]
    kids = []
    for text in pages:
        page_id = len(objects) + 1
        kids.append(f"{page_id} 0 R")
        if image:
            stream = b"q 10 0 0 10 0 0 cm /Im1 Do Q"
            resources = f"<< /XObject << /Im1 {page_id + 2} 0 R >> >>"
        else:
            stream = f"BT /F1 18 Tf 72 720 Td ({text}) Tj ET".encode()
            resources = f"<< /Font << /F1 {page_id + 2} 0 R >> >>"
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources {resources} "
                       f"/Contents {page_id + 1} 0 R >>".encode())
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        if image:
            objects.append(b"<< /Type /XObject /Subtype /Image /Width 1 /Height 1 /ColorSpace /DeviceGray "
                           b"/BitsPerComponent 8 /Length 1 >>\nstream\n\x80\nendstream")
        else:
            objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>".encode()
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + obj + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_pdf_text_per_page(tmp_path: Path) -> None:
    doc = one(parse(tmp_path, "two.pdf", make_pdf(["Hello first page", "Second page here"])))
    assert [(p.page, p.text) for p in doc.parts] == [(1, "Hello first page"), (2, "Second page here")]
    assert doc.meta["pages"] == "2"


def test_pdf_encryption_image_only_and_garbage(tmp_path: Path) -> None:
    import pypdf

    def encrypted(user: str) -> bytes:
        writer = pypdf.PdfWriter(clone_from=io.BytesIO(make_pdf(["Secret words"])))
        writer.encrypt(user_password=user, owner_password="owner", algorithm="AES-128")
        out = io.BytesIO()
        writer.write(out)
        return out.getvalue()

    assert one(parse(tmp_path, "open.pdf", encrypted(""))).parts[0].text == "Secret words"
    with pytest.raises(ParseError, match="encrypted PDF: password required"):
        parse(tmp_path, "locked.pdf", encrypted("hunter2"))
    scan = one(parse(tmp_path, "scan.pdf", make_pdf(["x"], image=True)))  # OCR'd: a grey square, no text
    assert scan.parts == [] and scan.meta["ocr_pages"] == "1"
    with pytest.raises(ParseError, match="not a PDF"):
        parse(tmp_path, "oops.pdf", b"oops")
    assert body(one(parse_bytes(Path("blank.pdf"), make_pdf([""])))) == []
