"""OCR in the parsers, on the real docs_more pictures and scans (``../shared/data/docs_more``).

A handful of files are OCR'd (each test keeps a per-test OCR cache); the CER bounds are the measured values
of ``bench/ocr_engines.py`` with a margin. Tesseract's tests skip when the program is not installed.
"""

from __future__ import annotations

import io
import json
import re
import time
from pathlib import Path

import pytest

from bench.ocr_engines import cer, levenshtein
from ragd.index.errors import ParseError
from ragd.index.isolate import ParsePool
from ragd.index.models import Document
from ragd.index.parse import ocr, parse_bytes, parse_file
from ragd.index.parse.ocr import _Box, reading_order

needs_tesseract = pytest.mark.skipif(not ocr.tesseract_languages(),
                                     reason="the tesseract program is not installed (apt-get install tesseract-ocr)")
needs_tesseract_jpn = pytest.mark.skipif(not {"jpn", "jpn_vert"} <= ocr.tesseract_languages(),
                                         reason="tesseract's Japanese data is not installed "
                                                "(apt-get install tesseract-ocr-jpn tesseract-ocr-jpn-vert)")


@pytest.fixture
def more(shared_data: Path) -> Path:
    root = shared_data / "docs_more"
    if not root.is_dir():
        pytest.skip(f"docs_more not found at {root}")
    return root


@pytest.fixture(autouse=True)
def ocr_cache(tmp_path: Path) -> Path:
    """Each test with a cache of its own and the default engine; the process's settings are put back."""
    before = ocr.settings()
    saved = (before.cache_dir, before.engine, before.budget_s)
    cache = tmp_path / "ocr-cache"
    ocr.configure(cache_dir=cache, engine="auto")
    yield cache
    ocr.configure(cache_dir=saved[0], engine=saved[1], budget_s=saved[2])


def ocr_text(doc: Document, page: int | None = None) -> str:
    return "\n".join(p.text for p in doc.parts if p.ocr and (page is None or p.page == page))


def test_levenshtein_and_cer() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert levenshtein("", "abc") == levenshtein("abc", "") == 3
    assert levenshtein("春はあけぼの", "春はあけぼの") == 0
    assert cer("a b\nc", "abc") == 0.0
    assert cer("abd", "abc") == pytest.approx(1 / 3)


# -- refusals: checked before decoding, and fast ---------------------------------------------------

HOSTILE = [
    ("Pillow__decompression_bomb.gif", r"^refused: image too large \(4365 megapixels\)$"),
    ("Pillow__oom-225817ca0f8c663be7ab4b9e717b02c661e66834.tif", r"^not a readable image"),
    ("Pillow__png_decompression_dos.png", r"^refused: Decompressed data too large"),
    ("Pillow__truncated_image.png", r"^damaged image: image file is truncated"),
    ("OCRmyPDF__hugemono.pdf", r"^refused: image too large \(1225 megapixels\)$"),
    ("OCRmyPDF__invalid.pdf", r"^damaged PDF"),
]


@pytest.mark.parametrize(("name", "reason"), HOSTILE)
def test_hostile_files_are_refused_with_a_reason(more: Path, name: str, reason: str) -> None:
    started, calls = time.monotonic(), ocr.calls
    with pytest.raises(ParseError, match=reason):
        parse_file(more / "malformed_hostile" / name)
    assert time.monotonic() - started < 5
    assert ocr.calls == calls  # refused before any OCR


def test_hostile_files_in_the_worker_pool(more: Path, tmp_path: Path) -> None:
    with ParsePool(timeout_s=30, ocr_cache=tmp_path / "pool-cache") as pool:
        for name, reason in HOSTILE:
            result = pool.parse(more / "malformed_hostile" / name)
            assert result.error is not None and re.search(reason, result.error), (name, result.error)


def test_picture_without_text_is_readable_but_empty() -> None:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(out, format="PNG")
    docs = parse_bytes(Path("blank.png"), out.getvalue())
    assert len(docs) == 1 and docs[0].parts == []


# -- accuracy and the cache --------------------------------------------------------------------------


def test_english_picture_cer_and_the_cache(more: Path, ocr_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = more / "images" / "tesseract-test__phototest.tif"
    first = parse_file(path)[0]
    assert first.parts and all(p.ocr and p.page == 1 for p in first.parts)
    assert first.parts[0].line_start == 1 and first.parts[-1].line_end == len(ocr_text(first).splitlines())
    rate = cer(ocr_text(first), (more / "images" / "tesseract-test__phototest.tif.expected.txt").read_text())
    assert rate <= 0.05, rate  # measured: 0.0 (tesseract and rapidocr)
    assert list(ocr_cache.rglob("*.json"))

    def no_engine(*_: object) -> object:
        raise AssertionError("the OCR engine ran again on a re-parse")

    monkeypatch.setattr(ocr, "_run", no_engine)
    calls = ocr.calls
    again = parse_file(path)[0]
    assert again.parts == first.parts and ocr.calls == calls


def test_a_re_parse_in_the_worker_reads_the_cache(more: Path, tmp_path: Path) -> None:
    """The pool hands its cache folder to the workers: a re-parse there gives what the cache holds."""
    cache = tmp_path / "pool-cache"
    path = more / "images" / "tesseract-test__phototest.tif"
    with ParsePool(timeout_s=60, memory_mb=2048, ocr_cache=cache) as pool:
        first = pool.parse(path)
        assert first.documents and "quick brown dog" in ocr_text(first.documents[0])
        (entry,) = cache.rglob("*.json")
        stored = json.loads(entry.read_text(encoding="utf-8"))
        stored["lines"] = ["from the cache, not the engine"]
        entry.write_text(json.dumps(stored), encoding="utf-8")
        again = pool.parse(path)
    assert again.documents and ocr_text(again.documents[0]) == "from the cache, not the engine"


def test_mixed_pdf_ocrs_only_the_pages_without_text(more: Path) -> None:
    doc = parse_file(more / "scanned_pdf" / "RapidOCRPDF__direct_and_image.pdf")[0]
    assert doc.meta["ocr_pages"] == "2"
    first = [p for p in doc.parts if p.page == 1]
    assert first and not any(p.ocr for p in first)
    assert first[0].text.startswith("ABCNet: Real-time Scene Text Spotting with Adaptive Bezier-Curve Network")
    scanned = ocr_text(doc, 2)
    assert "Microsoft" in scanned.splitlines()[0]  # RapidOCRPDF's own check: the scan starts with the logo
    assert "The Evolution of Offensive Cyberattacks and Defensive Cybersecurity Operations" in scanned


def test_which_pdf_pages_are_ocrd(more: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages with a text layer keep it; only image pages without text go to OCR (the engine is stubbed)."""
    seen: list[str] = []

    def stub(key: str, load: object, engine: str | None = None) -> list[str]:
        seen.append(key)
        return [f"ocr {len(seen)}"]

    monkeypatch.setattr(ocr, "read_lines", stub)
    link = parse_file(more / "scanned_pdf" / "OCRmyPDF__link.pdf")[0]  # a map image with text on the page
    assert not seen and not any(p.ocr for p in link.parts) and "ocr_pages" not in link.meta
    multi = parse_file(more / "scanned_pdf" / "OCRmyPDF__multipage.pdf")[0]
    assert multi.meta["ocr_pages"] == "1,2,3,5,6"
    assert sorted({p.page for p in multi.parts if not p.ocr}) == [4]
    assert [p.page for p in multi.parts] == [1, 2, 3, 4, 5, 6]
    jinmon = parse_file(more / "scanned_pdf" / "ndlkotenocr-lite__ndl_jinmonkon2024.pdf")[0]  # text + figures
    assert "ocr_pages" not in jinmon.meta and len(seen) == 5


def test_ocr_stops_at_the_time_budget(more: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(key: str, load: object, engine: str | None = None) -> list[str]:
        time.sleep(1.0)
        return ["page"]

    monkeypatch.setattr(ocr, "read_lines", slow)
    ocr.configure(cache_dir=None, engine="auto", budget_s=0.5)
    doc = parse_file(more / "scanned_pdf" / "OCRmyPDF__multipage.pdf")[0]
    assert doc.meta["ocr_pages"] == "1"  # the first page is always read
    assert doc.meta["ocr_skipped_pages"] == "2,3,5,6"
    assert [p.page for p in doc.parts] == [1, 4]


# -- reading order -------------------------------------------------------------------------------


def test_reading_order_columns() -> None:
    def box(x0: float, y0: float, x1: float, y1: float, text: str, vertical: bool = False) -> _Box:
        return _Box(x0, y0, x1, y1, text, vertical)

    # two horizontal columns under a heading: the left column is read to its end first
    page = [box(0, 0, 600, 30, "Title"), box(320, 50, 600, 70, "right 1"), box(0, 50, 280, 70, "left 1"),
            box(0, 80, 280, 100, "left 2"), box(320, 80, 600, 100, "right 2")]
    assert reading_order(page, vertical=False) == ["Title", "left 1", "left 2", "right 1", "right 2"]
    # vertical columns: right to left; a line cut in two keeps its pieces top to bottom
    columns = [box(0, 0, 30, 400, "三", True), box(100, 0, 130, 400, "一", True), box(50, 0, 80, 180, "二上", True),
               box(50, 200, 80, 400, "二下", True)]
    assert reading_order(columns, vertical=True) == ["一", "二上", "二下", "三"]


@needs_tesseract_jpn
def test_vertical_japanese_reading_order(more: Path) -> None:
    """A vertical (tategaki) page of 『銀河鉄道の夜』, rendered from its PDF: columns come right to left."""
    import pypdfium2 as pdfium
    from PIL import Image

    pdf = pdfium.PdfDocument(more / "scanned_pdf" / "jlreq-sample__ginga-1.pdf")
    try:
        picture: Image.Image = pdf[2].render(scale=300 / 72, grayscale=True).to_pil()
    finally:
        pdf.close()
    out = io.BytesIO()
    picture.save(out, format="PNG")
    text = "".join(ocr_text(parse_bytes(Path("ginga-3.png"), out.getvalue())[0]).split())
    order = [text.find(s) for s in ("よくわからないという気持", "ところが先生は早くもそれを見つけた",
                                    "ジョバンニさん", "ザネリが前の席から")]
    assert all(i >= 0 for i in order) and order == sorted(order), order


@needs_tesseract_jpn
def test_japanese_picture_cer(more: Path) -> None:
    """Printed Japanese (NDL monthly bulletin page) by the default engine (Tesseract, where installed)."""
    path = more / "images" / "ndlocr-lite__digidepo_11048278_po_geppo1803_00021.jpg"
    rate = cer(ocr_text(parse_file(path)[0]), Path(f"{path}.expected.txt").read_text(encoding="utf-8"))
    assert rate <= 0.25, rate  # measured 0.12 (tesseract; rapidocr alone: 0.80, it has 5 kana)


@needs_tesseract
def test_tesseract_engine_on_english(more: Path) -> None:
    ocr.configure(cache_dir=None, engine="tesseract")
    path = more / "images" / "tesseract-test__phototest.tif"
    rate = cer(ocr_text(parse_file(path)[0]), Path(f"{path}.expected.txt").read_text(encoding="utf-8"))
    assert rate <= 0.1, rate


def test_rapidocr_engine_reads_a_table_by_rows(more: Path) -> None:
    """RapidOCR (the engine when Tesseract is not installed): a bank statement's rows stay rows."""
    ocr.configure(cache_dir=None, engine="rapidocr")
    path = more / "images" / "tesseractjs__bill.png"
    text = ocr_text(parse_file(path)[0])
    assert cer(text, Path(f"{path}.expected.txt").read_text(encoding="utf-8")) <= 0.06  # measured 0.020
    assert any(line.startswith("01Aug2018") and "4987" in line for line in text.splitlines())


def test_a_scan_longer_than_the_parse_time_limit_gets_the_ocr_time_limit(more: Path, ocr_cache: Path) -> None:
    """The worker leases ``ocr_timeout_s`` when OCR starts: a scan is read whole although it takes longer than
    ``timeout_s``, which still stops anything else (``test_isolate``'s hanging parser)."""
    started = time.monotonic()
    with ParsePool(workers=1, timeout_s=1, memory_mb=2048, ocr_cache=ocr_cache, ocr_timeout_s=300) as pool:
        result = pool.parse(more / "scanned_pdf" / "OCRmyPDF__linn.pdf")
    assert time.monotonic() - started > 1.5, "the page was read faster than the parse time limit: no lease needed"
    assert result.error is None, result.error
    docs = result.documents or []
    assert "Linn" in " ".join(p.text for d in docs for p in d.parts) and "ocr_skipped_pages" not in docs[0].meta
