"""Presentations on real files (docs_more/slides, malformed_hostile): text per slide, titles, notes, refusals."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from ragd.index.chunk import chunk_document
from ragd.index.errors import ParseError
from ragd.index.location import place
from ragd.index.models import Document
from ragd.index.parse import parse_file
from ragd.index.parse.slides import MASTER_HEADING


def doc_of(path: Path) -> Document:
    docs = parse_file(path)
    assert len(docs) == 1
    return docs[0]


def slide_text(doc: Document, number: int | None) -> str:
    return "\n".join(p.text for p in doc.parts if p.slide == number)


@pytest.fixture
def slides(shared_data: Path) -> Path:
    return shared_data / "docs_more" / "slides"


def test_titles_tables_and_smartart(slides: Path) -> None:
    doc = doc_of(slides / "pandoc__basic.pptx")
    assert {p.slide for p in doc.parts} == {1, 2, 3, 4}
    table = next(p for p in doc.parts if p.kind == "table")
    assert (table.slide, table.heading) == (3, ("Table",))
    assert "Col1 | Col2 | Col3" in table.text and "Name | Anton" in table.text and "Age | 23" in table.text
    smart = slide_text(doc, 4)  # the text lives only in ppt/diagrams/data1.xml
    for word in ("First", "subtitle", "another", "Second", "yet more", "and yet again"):
        assert word in smart
    assert all(p.heading == ("Smart Art",) for p in doc.parts if p.slide == 4)
    assert "LLMs" not in slide_text(doc, 1).split("\n")  # a title is the heading, not a line of the text


def test_groups_text_boxes_and_tables(slides: Path) -> None:
    doc = doc_of(slides / "python-pptx__test_slides.pptx")
    text = slide_text(doc, 1)
    for expected in ("Test text", "Group test text", "Box 1", "Box 2", "Col head 1 | Col head 2"):
        assert expected in text


def test_chart_is_the_only_text(slides: Path) -> None:
    text = slide_text(doc_of(slides / "python-pptx__cht-charts.pptx"), 1)
    assert "Series 1: Category 1 4.3, Category 2 2.5" in text and "Series 3" in text


def test_table_cells_and_merged_cell(slides: Path) -> None:
    doc = doc_of(slides / "python-pptx__tbl-cell.pptx")
    assert "a | b | c\nd | e | f\ng | h | i" in slide_text(doc, 3)
    assert "merged cell" in slide_text(doc, 2)


def test_speaker_notes_and_notes_header_footer(slides: Path) -> None:
    deck = doc_of(slides / "poi__2411-Performance_Up.pptx")
    notes = next(p for p in deck.parts if p.kind == "notes")
    assert notes.text == "Notes: Hello crowd, welcome. Introduce self." and notes.slide == 1
    assert notes.heading == ("Apache Performance Tuning",)
    assert not any(p.text.strip().isdigit() for p in deck.parts)  # slide-number placeholders are left out
    various = doc_of(slides / "tika__testPPT_various.pptx")
    text = slide_text(various, 1)
    for expected in ("Row 1 Col 1 | Row 1 Col 2", "Here is a text box", "Footnote appears here", "Bullet 2",
                     "This is the footer text."):
        assert expected in text


def test_odp_slides_and_master_footer(slides: Path) -> None:
    doc = doc_of(slides / "tika__LibreOfficeImpress_odp_1.3.odp")
    assert [(p.slide, p.heading, p.text) for p in doc.parts] == [(1, ("This is",), "An example Impress file")]
    footer = doc_of(slides / "tika__testMasterFooter.odp")  # Tika: 'Master footer is here'
    assert [(p.slide, p.heading, p.text) for p in footer.parts] == [(None, (MASTER_HEADING,), "Master footer is here")]


def test_chunks_keep_slides_apart(slides: Path) -> None:
    chunks = chunk_document(doc_of(slides / "pandoc__basic.pptx"))
    assert [c.slide for c in chunks] == sorted(c.slide for c in chunks if c.slide is not None)
    table = next(c for c in chunks if "Anton" in c.text)
    assert (table.slide, table.heading) == (3, ("Table",))
    assert place(table.page, table.line_start, table.line_end, slide=table.slide) == "slide 3"


def test_truncated_pptx_is_refused(shared_data: Path) -> None:
    name = "poi__clusterfuzz-testcase-minimized-POIXSLFFuzzer-6254434927378432.pptx"
    with pytest.raises(ParseError, match="damaged PPTX"):
        parse_file(shared_data / "docs_more" / "malformed_hostile" / name)


@pytest.mark.parametrize("suffix", [".pptx", ".odp"])
def test_zip_bomb_is_refused_before_reading(tmp_path: Path, suffix: str) -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("content.xml", b"<a>" + b" " * (300 << 20) + b"</a>")
    path = tmp_path / f"bomb{suffix}"
    path.write_bytes(out.getvalue())
    with pytest.raises(ParseError, match="refused: zip bomb"):
        parse_file(path)


def test_encrypted_pptx_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "locked.pptx"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64 + "EncryptionInfo".encode("utf-16-le"))
    with pytest.raises(ParseError, match=r"^encrypted PPTX"):
        parse_file(path)
