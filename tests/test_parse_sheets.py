"""Spreadsheets and CSV on real files (docs_more/sheets, malformed_hostile): values, headers, rows, refusals."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest

from ragd.index.chunk import ChunkSettings, chunk_document
from ragd.index.errors import ParseError
from ragd.index.location import place
from ragd.index.models import Document, Part
from ragd.index.parse import parse_file
from ragd.index.parse.sheets import _records, column_letter, sniff_delimiter
from tests.test_pipeline import World


def doc_of(path: Path) -> Document:
    docs = parse_file(path)
    assert len(docs) == 1
    return docs[0]


def rows(doc: Document, sheet: str | None = None) -> list[tuple[int | None, str]]:
    return [(p.line_start, p.text) for p in doc.parts if p.sheet == sheet]


@pytest.fixture
def sheets(shared_data: Path) -> Path:
    return shared_data / "docs_more" / "sheets"


@pytest.fixture
def hostile(shared_data: Path) -> Path:
    return shared_data / "docs_more" / "malformed_hostile"


def test_column_letters() -> None:
    assert [column_letter(i) for i in (0, 25, 26, 701, 702)] == ["A", "Z", "AA", "ZZ", "AAA"]


@pytest.mark.parametrize("name", ["calamine__issues.xlsx", "calamine__issues.xls", "calamine__issues.ods"])
def test_values_as_a_person_reads_them(sheets: Path, name: str) -> None:
    doc = doc_of(sheets / name)
    # calamine's own test: issue2 = [[1, 'a'], [2, 'b'], [3, 'c']]; no header row, so columns go by letter
    assert rows(doc, "issue2") == [(1, "A: 1 · B: a"), (2, "A: 2 · B: b"), (3, "A: 3 · B: c")]
    # datatypes = 1, 1.5, 'ab', false, 'test', 2016-10-20: a one-column sheet is a plain list
    assert [t for _, t in rows(doc, "datatypes")] == ["1", "1.5", "ab", "FALSE", "test", "2016-10-20"]
    assert rows(doc, "Sheet1") == [(2, "0")]  # the row number a spreadsheet app shows, not the used range's
    part = next(p for p in doc.parts if p.sheet == "issue2")
    assert (part.heading, part.kind, part.line_end) == (("issue2",), "row", 1)


def test_header_is_repeated_in_each_row_and_sheets_are_kept_apart(sheets: Path) -> None:
    doc = doc_of(sheets / "frictionless__table-with-two-sheets.ods")
    # frictionless: sheet 2 'Tabelle2' has header a,b,c and one row 1,2,3
    assert rows(doc, "Tabelle2") == [(2, "a: 1 · b: 2 · c: 3")]
    assert rows(doc, "Лист1") == [(2, "id: 1 · name: english"), (3, "id: 2 · name: 中国人")]


def test_hidden_and_chart_sheets_are_skipped(sheets: Path) -> None:
    doc = doc_of(sheets / "calamine__any_sheets.xlsx")
    assert {p.sheet for p in doc.parts} == {"Visible"}
    assert rows(doc, "Visible")[:3] == [(1, "A: 1 · B: 2"), (2, "A: 3 · B: 4"), (3, "A: 5 · B: 6")]
    assert rows(doc, "Visible")[3][0] == 5  # the empty row 4 is skipped, the numbering is not


def test_merged_cells_keep_their_value_in_the_top_left_cell(sheets: Path) -> None:
    doc = doc_of(sheets / "calamine__merge_cells.xlsx")  # A1:B1, A2:A4, B2:D4 merged
    assert rows(doc, "Sheet1") == [(2, "Row Merge: Column Merge · B: Chunk Merged")]


@pytest.mark.parametrize("name", ["calamine__rph.xlsx", "tika__testEXCEL_phonetic.xlsx"])
def test_phonetic_runs_are_left_out(sheets: Path, name: str) -> None:
    doc = doc_of(sheets / name)
    text = "\n".join(p.text for p in doc.parts)
    if name == "calamine__rph.xlsx":
        assert text == "課きく\u3000毛こ"  # calamine's test: the base text, no 'カ' 'ケ' runs
    else:
        assert "Name: 日本オラクル · " in text and "日本オラクル ニホン" not in text
        assert {p.sheet for p in doc.parts} == {"Sheet1"}  # Sheet2 and Sheet3 are empty


def test_semicolon_csv_is_sniffed(sheets: Path) -> None:
    doc = doc_of(sheets / "frictionless__accent.csv")
    assert [p.line_start for p in doc.parts] == [2, 3]  # frictionless: 2 rows
    first = doc.parts[0]
    assert first.text.startswith("n_amenageur: XXX · n_operateur: YYY · ")
    assert "accessibilité: 24h/24" in first.text and first.sheet is None and first.kind == "row"


def test_quoted_csv_keeps_every_field(sheets: Path) -> None:
    path = sheets / "frictionless__doublequote.csv"
    text = path.read_text(encoding="utf-8")
    records = list(_records(text, sniff_delimiter(text, ",")))
    assert len(records) == 6 and all(len(cells) == 17 for _, _, cells, _ in records)  # frictionless: 17 fields
    doc = doc_of(path)
    assert len(doc.parts) == 5 and all(p.text.startswith("INCISO: A.N.E.P. · ") for p in doc.parts)
    assert '""' not in doc.parts[0].text


def test_greek_legacy_encoding(sheets: Path) -> None:
    doc = doc_of(sheets / "frictionless__table-infer-iso-8859-7.csv")
    names = [p.text.rpartition("name: ")[2] for p in doc.parts]
    assert names == ["Λεωνιδας", "Αλεξανδρος", "Μυρων", "Ευστοργιος"]


def test_tsv_with_null_marker(sheets: Path) -> None:
    doc = doc_of(sheets / "frictionless__table.tsv")
    assert rows(doc) == [(2, "id: 1 · name: english"), (3, "id: 2 · name: 中国人"), (4, "id: 3")]


def test_csv_rows_carry_their_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('Date,Item,Amount\n\n2024-03-01,"Train\nticket",42\n2024-03-02,Hotel,120.50\n', encoding="utf-8")
    doc = doc_of(path)
    assert [(p.line_start, p.line_end, p.text) for p in doc.parts] == [
        (3, 4, "Date: 2024-03-01 · Item: Train\nticket · Amount: 42"),
        (5, 5, "Date: 2024-03-02 · Item: Hotel · Amount: 120.50")]


def test_title_row_above_the_header(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("Expenses 2024,,\nDate,Item,Amount\n2024-03-02,Hotel,120\n", encoding="utf-8")
    assert [p.text for p in doc_of(path).parts] == ["Expenses 2024", "Date: 2024-03-02 · Item: Hotel · Amount: 120"]


def test_chunks_of_a_sheet_report_the_sheet_and_row_range(sheets: Path) -> None:
    doc = doc_of(sheets / "calamine__issues.xlsx")
    chunks = chunk_document(doc)
    assert len({c.sheet for c in chunks}) == len(chunks)  # small sheets: one chunk each, never two sheets in one
    chunk = next(c for c in chunks if c.sheet == "issue2")
    assert (chunk.line_start, chunk.line_end, chunk.heading) == (1, 3, ("issue2",))
    assert chunk.text == "A: 1 · B: a\n\nA: 2 · B: b\n\nA: 3 · B: c"
    assert place(chunk.page, chunk.line_start, chunk.line_end, sheet=chunk.sheet) == 'sheet "issue2", rows 1-3'
    long = chunk_document(doc_of(sheets / "tika__testEXCEL_phonetic.xlsx"), settings=ChunkSettings(max_tokens=120))
    assert len(long) > 1 and long[0].line_start == 2 and long[-1].line_end == 18
    assert all(c.line_start is not None and c.line_end is not None and c.line_start <= c.line_end for c in long)


# --- refusals ---------------------------------------------------------------------------------------------------


def test_encrypted_workbook_is_refused(sheets: Path) -> None:
    with pytest.raises(ParseError, match=r"^encrypted workbook"):
        parse_file(sheets / "calamine__pass_protected.xlsx")


def test_cell_count_bomb_is_refused_quickly(hostile: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ParseError, match=r"refused: cell-count bomb.*Cell limit exceeded"):
        parse_file(hostile / "calamine__issue_594_dos.ods")
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(("name", "reason"), [
    ("calamine__too_small.xls", "not an XLS file"),
    ("poi__clusterfuzz-testcase-minimized-XLSX2CSVFuzzer-6594557414080512.xlsx", "damaged XLSX"),
    ("poi__xlsx-corrupted.xlsx", "damaged spreadsheet"),
])
def test_malformed_workbooks_get_a_reason(hostile: Path, name: str, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_file(hostile / name)


def test_xxe_workbook_is_read_without_fetching_anything(hostile: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    doc = doc_of(hostile / "poi__xxe_in_schema.xlsx")  # calamine (Rust) never reads xl/xmlMaps.xml's schema
    assert rows(doc, "Sheet1") == [(10, "/Test/Test: 1")]


def test_zip_bomb_workbook_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<a>" + b" " * (300 << 20) + b"</a>")
    with pytest.raises(ParseError, match="refused: zip bomb"):
        parse_file(path)


def test_sheet_over_the_cell_cap_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("ragd.index.parse.sheets.MAX_SHEET_CELLS", 4)
    path = tmp_path / "t.xlsx"
    path.write_bytes(_xlsx([["Date", "Item", "Amount"], ["2024-03-02", "Hotel", 120]]))
    with pytest.raises(ParseError, match=r"refused: sheet .March. spans 2 rows x 3 columns"):
        parse_file(path)


# --- end to end -------------------------------------------------------------------------------------------------


def _xlsx(table: list[list[str | int]], sheet: str = "March") -> bytes:
    """A minimal workbook (inline strings, no styles), since python-calamine cannot write one."""
    import io

    def cell(ref: str, value: str | int) -> str:
        if isinstance(value, int):
            return f'<c r="{ref}"><v>{value}</v></c>'
        return f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>'

    body = "".join(
        f'<row r="{r}">' + "".join(cell(f"{column_letter(c)}{r}", v) for c, v in enumerate(row)) + "</row>"
        for r, row in enumerate(table, 1))
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    files = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships'
        '+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" '
        'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
        'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.'
        'spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        f'relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>",
        "xl/workbook.xml": f'<?xml version="1.0"?><workbook xmlns="{main}" xmlns:r="{rel}"><sheets><sheet '
        f'name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        f'package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" '
        'Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<?xml version="1.0"?><worksheet xmlns="{main}"><sheetData>{body}'
        "</sheetData></worksheet>",
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


def test_written_workbook_parses(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    path.write_bytes(_xlsx([["Date", "Item", "Amount"], ["2024-03-02", "Hotel", 120]]))
    assert doc_of(path).parts == [Part("Date: 2024-03-02 · Item: Hotel · Amount: 120", line_start=2, line_end=2,
                                       heading=("March",), kind="row", sheet="March")]


def test_a_row_is_found_with_its_sheet_and_rows(tmp_path: Path) -> None:
    world = World(tmp_path)
    table: list[list[str | int]] = [["Date", "Item", "Amount"]]
    table += [[f"2024-03-{d:02d}", item, 10 * d] for d, item in enumerate(
        ["Taxi", "Hotel march conference", "Lunch", "Train", "Parking", "Dinner", "Museum", "Coffee"], 1)]
    (world.root / "expenses.xlsx").write_bytes(_xlsx(table))
    stats = world.run()
    assert stats.files_failed == 0, stats.failures
    hit = next(h for h in world.search("hotel march conference", 5) if h.path.endswith("expenses.xlsx"))
    assert "Item: Hotel march conference · Amount: 20" in hit.text
    assert hit.sheet == "March" and hit.heading == ("March",)
    assert hit.line_start is not None and hit.line_end is not None and hit.line_start <= 3 <= hit.line_end
