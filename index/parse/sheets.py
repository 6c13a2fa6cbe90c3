"""Spreadsheets (XLSX, XLSM, XLSB, XLS, ODS) through python-calamine, and delimited text (CSV, TSV).

A row becomes one part that repeats the column headers (``Date: 2024-03-02 · Item: Hotel · Amount: 120``),
so that any chunk of rows reads on its own and a search for a header word and a value finds the row. The
header row is not emitted on its own (every row already carries it) unless the table has nothing else. A
first row that does not look like a header (numbers, dates) leaves the columns named by letter (``A: 1``).
A one-column sheet is a list: its rows carry no labels. Locations are the row numbers a spreadsheet app
shows (``sheet="March"``, ``line_start=line_end=7``); for CSV they are the file's lines, a quoted cell
that spans lines included.

What a user would expect to see, and no more:
 - formulas are read as their last computed values (what the file caches); a workbook that was never
   calculated (written by a program, not opened in a spreadsheet app) shows those cells empty;
 - hidden and very hidden sheets are skipped: they hold lookup tables and scratch work that the author
   chose not to show, and a search result pointing into them would be a puzzle; chart, macro and dialog
   sheets hold no cells to read. Hidden rows and columns are read (calamine does not report them);
 - a merged range's value is in its top-left cell, the others are empty;
 - numbers as a person reads them (``1.0`` -> ``1``), dates in ISO form, booleans as TRUE/FALSE;
 - Japanese phonetic guides (furigana runs) are left out: calamine reads the base text only.

Refused with a reason: encrypted workbooks, zip bombs (checked before calamine decompresses anything),
cell-count bombs (calamine's own limit, and :data:`MAX_SHEET_CELLS` per sheet) and damaged files. calamine
is written in Rust and never resolves external entities, DTDs or schemas, so a workbook that points at
a URL (XXE) is read without any network access.
"""

from __future__ import annotations

import csv
import io
import math
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ragd.index.errors import ParseError
from ragd.index.models import Document, Part
from ragd.index.parse.container import open_zip
from ragd.index.parse.encoding import decode_text_file

if TYPE_CHECKING:
    from python_calamine import CalamineWorkbook

MAX_SHEET_CELLS = 2_000_000  # a sheet's used range (rows x columns) past this is refused
MAX_WORKBOOK_CELLS = 10_000_000
HEADER_SCAN_ROWS = 10  # title rows above a table's header are looked for this far down
SEP = " · "

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGIC = b"PK\x03\x04"
_ENCRYPTION_INFO = "EncryptionInfo".encode("utf-16-le")
_LINE_BREAKS = re.compile(r"\s*[\r\n\v\f\u2028\u2029]+\s*")
_NUMBER = re.compile(r"^[-+(]?[$€£¥]?\s*[-+]?(\d[\d,.' ]*|\.\d+)([eE][-+]?\d+)?\s*[%)]?$")
_DATE = re.compile(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2})?)?$")
_NULLS = frozenset({"\\N"})  # the null marker of database dumps (PostgreSQL COPY, MySQL)

Cell = str | int | float | bool | date | datetime | time | timedelta | None

__all__ = ["DelimitedParser", "SheetParser", "column_letter", "row_parts"]


# --- cells, headers and rows (shared by workbooks and CSV) ------------------------------------------------------


def column_letter(index: int) -> str:
    """``0`` -> ``A``, ``26`` -> ``AA``: the column names a spreadsheet app shows."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(65 + rest) + name
    return name


def _round_seconds(value: datetime) -> datetime:
    """Serial dates are floats: 10:59:59.9999 is 11:00:00 to the person who typed it."""
    return (value + timedelta(microseconds=500_000)).replace(microsecond=0) if value.microsecond else value


def cell_text(value: Cell) -> str:
    """A cell's value as a person reads it, on one line."""
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.15g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        value = _round_seconds(value)
        return value.date().isoformat() if value.time() == time() else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, time):
        return value.replace(microsecond=0).isoformat()
    if isinstance(value, timedelta):
        return str(timedelta(seconds=round(value.total_seconds())))
    text = str(value).strip()
    return "" if text in _NULLS else _LINE_BREAKS.sub(" ", text)


def _is_label(value: Cell) -> bool:
    """A header cell is text that is not a number or a date in disguise."""
    if not isinstance(value, str):
        return False
    text = value.strip()
    return bool(text) and not _NUMBER.match(text) and not _DATE.match(text)


def _header_labels(cells: Sequence[Cell], first_col: int) -> list[str]:
    """The label of each column: its header text, or its letter where the header cell is empty."""
    return [cell_text(c) or column_letter(first_col + i) for i, c in enumerate(cells)]


def _row_text(texts: Sequence[str], labels: Sequence[str] | None, first_col: int) -> str:
    pairs = []
    for i, text in enumerate(texts):
        if not text:
            continue
        if labels is None:
            pairs.append(text)
        else:
            label = labels[i] if i < len(labels) else column_letter(first_col + i)
            pairs.append(f"{label}: {text}")
    return SEP.join(pairs)


def row_parts(rows: Iterable[tuple[int, int, Sequence[Cell], Sequence[str]]], *, first_col: int = 0,
              sheet: str | None = None, heading: tuple[str, ...] = ()) -> Iterator[Part]:
    """Parts for a table's rows, given as (first line, last line, raw cells, cell texts).

    The header is the first row whose cells are all labels, found among the first rows; single-cell rows
    above it (a title) are kept as plain text. Without such a row the columns are named by letter, and a
    one-column table is a plain list.
    """
    pending: list[tuple[int, int, Sequence[Cell], Sequence[str]]] = []
    labels: list[str] | None
    source = iter(rows)

    def make(start: int, end: int, texts: Sequence[str], with_labels: list[str] | None) -> Part:
        return Part(_row_text(texts, with_labels, first_col), line_start=start, line_end=end,
                    heading=heading, kind="row", sheet=sheet)

    for row in source:
        if not any(row[3]):
            continue
        pending.append(row)
        if len(pending) >= HEADER_SCAN_ROWS:
            break
    if not pending:
        return
    widths = [sum(1 for t in r[3] if t) for r in pending]
    widest = max(widths)
    header_at: int | None = None
    if widest > 1 and len(pending) > 1:
        for i, (row, width) in enumerate(zip(pending, widths, strict=True)):
            labelled = all(_is_label(c) for c, t in zip(row[2], row[3], strict=False) if t)
            if labelled and width >= max(2, (widest + 1) // 2) and i < len(pending) - 1:
                header_at = i
                break
            if width > 1:  # a data row before any header: the table has none
                break
    if header_at is not None:
        for start, end, _, texts in pending[:header_at]:
            yield make(start, end, texts, None)  # title lines above the header
        labels = _header_labels(pending[header_at][2], first_col)
        body = pending[header_at + 1:]
    else:
        body = pending
        labels = [column_letter(first_col + i) for i in range(max(len(r[3]) for r in pending))] if widest > 1 \
            else None
    for start, end, _, texts in body:
        yield make(start, end, texts, labels)
    for start, end, _, texts in source:
        if any(texts):
            yield make(start, end, texts, labels)


# --- workbooks ----------------------------------------------------------------------------------------------


def _calamine_reason(exc: Exception) -> str:
    message = " ".join(str(exc).split())
    if type(exc).__name__ == "PasswordError" or "password" in message.lower():
        return "encrypted workbook: password-protected spreadsheets are not supported"
    if "cell limit" in message.lower():
        return f"refused: cell-count bomb ({message})"
    return f"damaged spreadsheet: {message[:200]}"


def _open_workbook(suffix: str, data: bytes) -> CalamineWorkbook:
    """The workbook in ``data``; calamine guesses the format from the content.

    When the guess fails calamine says only 'Cannot detect file format', so the file is opened again by its
    suffix (from a temporary file: python-calamine chooses the reader by file name only) for the real reason.
    """
    from python_calamine import CalamineError, CalamineWorkbook

    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data))
    except CalamineError as exc:
        first = exc
    with tempfile.TemporaryDirectory(prefix="ragd-sheet-") as folder:
        copy = Path(folder) / f"workbook{suffix}"
        copy.write_bytes(data)
        try:
            workbook = CalamineWorkbook.from_path(copy)
            for meta in workbook.sheets_metadata:
                workbook.get_sheet_by_name(meta.name)  # read now, while the copy exists
        except CalamineError as exc:
            raise ParseError(_calamine_reason(exc)) from None
    raise ParseError(_calamine_reason(first))


def _check_container(suffix: str, data: bytes) -> None:
    """Encrypted workbooks and zip bombs are told apart before calamine reads anything."""
    if data.startswith(OLE_MAGIC):
        if _ENCRYPTION_INFO in data:
            raise ParseError("encrypted workbook: password-protected spreadsheets are not supported")
        if suffix not in (".xls",):
            raise ParseError(f"not a {suffix[1:].upper()} file (a legacy .xls or other OLE container)")
    elif data.startswith(ZIP_MAGIC) or suffix in (".xlsx", ".xlsm", ".xlsb", ".ods"):
        open_zip(data, suffix[1:].upper()).close()
    elif suffix == ".xls" and not data.startswith(b"<"):  # Excel 2003 XML or HTML saved as .xls: calamine says
        raise ParseError("not an XLS file (neither an OLE (BIFF) nor a zip container)")


def parse_workbook(suffix: str, data: bytes) -> Document:
    from python_calamine import CalamineError, SheetTypeEnum, SheetVisibleEnum

    _check_container(suffix, data)
    workbook = _open_workbook(suffix, data)
    parts: list[Part] = []
    total = 0
    try:
        for meta in workbook.sheets_metadata:
            if meta.typ != SheetTypeEnum.WorkSheet or meta.visible != SheetVisibleEnum.Visible:
                continue
            sheet = workbook.get_sheet_by_name(meta.name)
            cells = sheet.height * sheet.width
            total += cells
            if cells > MAX_SHEET_CELLS:
                raise ParseError(f"refused: sheet {meta.name!r} spans {sheet.height} rows x {sheet.width} columns "
                                 f"({cells:,} cells, limit {MAX_SHEET_CELLS:,})")
            if total > MAX_WORKBOOK_CELLS:
                raise ParseError(f"refused: the workbook holds over {MAX_WORKBOOK_CELLS:,} cells")
            if sheet.start is None:
                continue
            first_row, first_col = sheet.start
            rows = ((first_row + i + 1, first_row + i + 1, cells_, [cell_text(c) for c in cells_])
                    for i, cells_ in enumerate(sheet.to_python(skip_empty_area=True)))
            parts.extend(row_parts(rows, first_col=first_col, sheet=meta.name, heading=(meta.name,)))
    except CalamineError as exc:
        raise ParseError(_calamine_reason(exc)) from None
    finally:
        workbook.close()
    return Document(parts=parts)


class SheetParser:
    """Workbooks of every common spreadsheet format, one reader for all."""

    suffixes: tuple[str, ...] = (".xlsx", ".xlsm", ".xlsb", ".xls", ".ods")

    def parse(self, path: Path, data: bytes) -> list[Document]:
        return [parse_workbook(path.suffix.lower(), data)]


# --- delimited text -------------------------------------------------------------------------------------------

_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_LINES = 50


def sniff_delimiter(text: str, default: str) -> str:
    """The delimiter that splits the first lines into the most consistent number of fields (more than one).

    csv.Sniffer is thrown off by long quoted cells that hold the other delimiters; counting fields per
    record over a real reader is not.
    """
    best, best_score = default, (0, 0)
    for delimiter in _DELIMITERS:
        reader = csv.reader(io.StringIO(text), delimiter=delimiter)
        counts: dict[int, int] = {}
        try:
            for i, record in enumerate(reader):
                if i >= _SNIFF_LINES:
                    break
                if record:
                    counts[len(record)] = counts.get(len(record), 0) + 1
        except csv.Error:
            pass  # judged on the records before the error (the sample may end inside a quoted cell)
        fields, seen = max(counts.items(), key=lambda kv: (kv[1], kv[0]), default=(1, 0))
        score = (seen, fields) if fields > 1 else (0, 0)
        if score > best_score or (score == best_score and delimiter == default and score[0]):
            best, best_score = delimiter, score
    return best


def _records(text: str, delimiter: str) -> Iterator[tuple[int, int, list[str], list[str]]]:
    """(first line, last line, cells, texts) of each record, streamed."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    last = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ParseError(f"malformed {'TSV' if delimiter == chr(9) else 'CSV'} at line {reader.line_num}: "
                             f"{exc}") from None
        start, last = last + 1, reader.line_num
        if record:
            # Lines inside a quoted cell are source lines: keep them, so that line i of the part is line start + i.
            cells = ["" if c.strip() in _NULLS else c.strip(" \t") for c in record]
            yield start, last, cells, cells


class DelimitedParser:
    """CSV and TSV: the delimiter is sniffed (semicolons are common in Europe), the encoding detected."""

    suffixes: tuple[str, ...] = (".csv", ".tsv")

    def parse(self, path: Path, data: bytes) -> list[Document]:
        text = decode_text_file(data)
        default = "\t" if path.suffix.lower() == ".tsv" else ","
        delimiter = sniff_delimiter(text[: 256 << 10], default)
        return [Document(parts=list(row_parts(_records(text, delimiter))))]
