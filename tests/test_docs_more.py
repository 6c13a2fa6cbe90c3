"""Every file of ``../shared/data/docs_more`` (scans, photos, spreadsheets, slides, more text formats, vaults and
hostile files of these kinds) through the real parser pool: each one either gives its text or is refused with a
reason, within the worker's limits, and the locations say where the text is (sheet and row, slide, OCR'd page)."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest

from ragd.index.isolate import ParsePool, ParseResult
from ragd.index.models import Part

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "docs_more"
BUDGET_S = 600.0  # the whole folder, OCR included, on 2 cores (about 70-120 s here)

# Readable files without text: empty notes, a blank picture, pages OCR cannot read (woodblock print, kanbun).
EMPTY = {
    "vault/obsidian-dataview__test-vault/blog/2021-08-08-a-post.md",
    "vault/obsidian-export__main-samples/Uppercased-note.md",
    "vault/obsidian-export__main-samples/white.png",
    "images/ndlkotenocr-lite__11892692_0004.jpg",
    "images/ndlkotenocr-lite__1287221_0002.jpg",
}
# Good files that are not documents: skipped as unsupported, with that reason.
NOT_DOCUMENTS = {"vault/obsidian-export__main-samples/.export-ignore", "vault/obsidian-export__main-samples/bulb.svg"}
REFUSED = {"sheets/calamine__pass_protected.xlsx": "encrypted workbook"}
# Hostile or malformed files that are safe to read as they are (and are read).
READ_SAFELY = {
    "malformed_hostile/nbformat__invalid.ipynb",  # schema-invalid, but its cells are plain text
    "malformed_hostile/poi__xxe_in_schema.xlsx",  # the external schema is never fetched (no entity is resolved)
    "malformed_hostile/obsidian-export__infinite-recursion/Note A.md",  # embeds are not inlined: the cycle is
    "malformed_hostile/obsidian-export__infinite-recursion/Note B.md",  # recorded, never followed
    "malformed_hostile/obsidian-export__infinite-recursion/Note C.md",
}
CONTENT = [
    ("sheets/frictionless__table-infer-iso-8859-7.csv", ["Λεωνιδας"]),
    ("sheets/frictionless__table-with-two-sheets.ods", ["a: 1", "c: 3"]),
    ("sheets/calamine__issues.xlsx", ["ab"]),
    ("slides/python-pptx__test_slides.pptx", ["Group test text", "Col head 1"]),
    ("slides/tika__testMasterFooter.odp", ["Master footer"]),
    ("text/pandoc__trackedChanges.odt", ["inserted text"]),
    ("text/tika__testRTF-ms932.rtf", ["こんにちは"]),
    ("text/jlreq-sample__ginga-text.tex", ["銀河"]),
    ("text/nbformat__test4.ipynb", ["print"]),
    ("images/tesseract-test__phototest.tif", ["12 point text"]),
    ("scanned_pdf/OCRmyPDF__linn.pdf", ["Linn"]),
]


def _manifest() -> list[dict[str, str]]:
    if not (DATA / "manifest.csv").exists():
        pytest.skip("evaluation data not present (../shared/data/docs_more)")
    with (DATA / "manifest.csv").open(newline="") as f:
        return [r for r in csv.DictReader(f) if not r["file"].endswith(".expected.txt")]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[dict[str, str]], dict[str, ParseResult], float]:
    rows = _manifest()
    started = time.monotonic()
    with ParsePool(workers=2, timeout_s=120, memory_mb=2048, ocr_cache=tmp_path_factory.mktemp("ocr")) as pool:
        results = {str(path.relative_to(DATA)): result
                   for path, result in pool.parse_many(DATA / r["file"] for r in rows)}
    return rows, results, time.monotonic() - started


def parts(result: ParseResult) -> list[Part]:
    return [p for d in result.documents or [] for p in d.parts]


def text_of(result: ParseResult) -> str:
    return "\n".join(p.text for p in parts(result))


def test_every_file_finishes_within_the_limits(run) -> None:
    rows, results, elapsed = run
    assert set(results) == {r["file"] for r in rows} and elapsed < BUDGET_S
    for name, result in results.items():
        assert (result.documents is None) != (result.error is None), name
        crashed = ("timed out", "parser process", "parser ran out", "parser crashed")
        assert not (result.error or "").startswith(crashed), (name, result.error)


def test_good_files_give_their_text(run) -> None:
    rows, results, _ = run
    for row in rows:
        name, result = row["file"], results[row["file"]]
        if row["kind"] not in ("normal", "tricky", "encoding"):
            continue
        if name in NOT_DOCUMENTS:
            assert result.unsupported, name
        elif name in REFUSED:
            assert (result.error or "").startswith(REFUSED[name]), (name, result.error)
        elif name in EMPTY:
            assert result.error is None and not text_of(result).strip(), name
        else:
            assert result.error is None and text_of(result).strip(), (name, result.error)


def test_malformed_and_hostile_files_are_refused_with_a_reason_or_read_safely(run) -> None:
    rows, results, _ = run
    for row in rows:
        name, result = row["file"], results[row["file"]]
        if row["kind"] not in ("malformed", "hostile"):
            continue
        if name in READ_SAFELY:
            assert result.error is None, (name, result.error)
        else:
            assert result.error and not result.unsupported and len(result.error) > 12, (name, result.error)
    for note in ("Note A", "Note B", "Note C"):
        docs = results[f"malformed_hostile/obsidian-export__infinite-recursion/{note}.md"].documents or []
        assert docs[0].meta["embed_cycle"].startswith(f"{note} → ")
    assert "too large" in (results["malformed_hostile/OCRmyPDF__hugemono.pdf"].error or "")
    assert "too large" in (results["malformed_hostile/Pillow__decompression_bomb.gif"].error or "")
    assert "cell-count bomb" in (results["malformed_hostile/calamine__issue_594_dos.ods"].error or "")


@pytest.mark.parametrize(("name", "needles"), CONTENT)
def test_content(run, name: str, needles: list[str]) -> None:
    text = text_of(run[1][name])
    for needle in needles:
        assert needle in text, (name, needle)


def test_locations_say_sheet_and_rows_slide_and_ocr_page(run) -> None:
    _, results, _ = run
    sheet = parts(results["sheets/frictionless__table-with-two-sheets.ods"])
    assert {p.sheet for p in sheet} >= {"Tabelle2"} and all(p.line_start and p.line_start >= 2 for p in sheet)
    slides = parts(results["slides/python-pptx__tbl-cell.pptx"])
    assert {p.slide for p in slides} == {1, 2, 3} and not any(p.ocr for p in slides)
    scan = parts(results["scanned_pdf/OCRmyPDF__multipage.pdf"])
    assert {p.page for p in scan if p.ocr} == {1, 2, 3, 5, 6}  # the pages without a text layer, and only those
    tiff = parts(results["images/tesseract-test__eurotext.tif"])
    assert tiff and all(p.ocr and p.page == 1 and p.line_start for p in tiff)


# Per file with a transcript: the character error rate the default engine must stay within (bench.ocr_engines'
# measurement, plus a margin), by the engine `auto` picks. Pages neither engine reads (handwriting, woodblock,
# kanbun, a photographed spread) are left out: a bound of 1.0 would assert nothing.
CER_BOUNDS = {
    "tesseract": {"images/tesseract-test__phototest.tif": 0.03, "images/tesseract-test__eurotext.tif": 0.06,
                  "images/tesseract-test__8087_054.3B.tif": 0.12, "images/tesseractjs__bill.png": 0.10,
                  "images/ndlocr-lite__digidepo_11048278_po_geppo1803_00021.jpg": 0.20,
                  "images/ndlocr-lite__digidepo_3048008_0025.jpg": 0.50,
                  "scanned_pdf/OCRmyPDF__linn.pdf": 0.03, "scanned_pdf/OCRmyPDF__ccitt.pdf": 0.03,
                  "scanned_pdf/OCRmyPDF__skew.pdf": 0.08},
    "rapidocr": {"images/tesseract-test__phototest.tif": 0.03, "images/tesseract-test__eurotext.tif": 0.06,
                 "images/tesseractjs__bill.png": 0.05, "scanned_pdf/OCRmyPDF__linn.pdf": 0.05,
                 "scanned_pdf/OCRmyPDF__ccitt.pdf": 0.05},
}


def test_ocr_character_error_rate_per_file(run) -> None:
    from bench.ocr_engines import cer
    from ragd.index.parse import ocr

    _, results, _ = run
    engine = "tesseract" if ocr.tesseract_languages() else "rapidocr"
    for name, bound in CER_BOUNDS[engine].items():
        found = [p for p in parts(results[name]) if p.ocr and (p.page == 1 or not name.endswith(".pdf"))]
        rate = cer("\n".join(p.text for p in found), (DATA / f"{name}.expected.txt").read_text(encoding="utf-8"))
        assert rate <= bound, (engine, name, round(rate, 4))
