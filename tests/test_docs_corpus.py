"""The real-world corpus (../shared/data/docs_corpus) through ParsePool, as the indexer runs it.

normal/tricky/encoding files of a supported format must give text (with the right
characters), except the documented cases below; malformed/hostile files must finish
within the limits with text or a reason; unsupported formats are reported as such.
"""

from __future__ import annotations

import csv
import html
import re
import time
import unicodedata
from pathlib import Path

import pytest

from ragd.index.isolate import ParsePool, ParseResult
from ragd.index.parse import is_supported

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "docs_corpus"
TIMEOUT_S = 30.0
PASS_BUDGET_S = 50.0

# Files that cannot give text, and the reason recorded for them.
EXPECTED_ERRORS = {
    "pdf/sample-files__libreoffice-writer-password.pdf": "encrypted PDF: password required",
    "pdf/pdfminer__aes-256.pdf": "encrypted PDF: password required",
    "docx/tika__testWORD_protected_passtika.docx": "encrypted DOCX",
}
# Readable files with no text in them: a document without parts (indexed with 0 chunks).
EXPECTED_EMPTY = {
    "pdf/pdfjs__empty.pdf",  # a blank page
    "pdf/sample-files__grayscale-image.pdf",  # a photo without text (OCR finds none)
    "docx/mammoth__empty.docx",  # an empty document
    "docx/python-docx__tbl-having-tables.docx",  # empty tables only
    "docx/python-docx__having-images.docx",  # pictures only
}
# (file, strings its text must contain); Japanese checked against the files by reading them.
CONTENT = [
    ("pdf/tika__testOCR.pdf", ["Happy New Year 2003!"]),  # a scan: read by OCR
    ("pdf/pdfminer__jo.pdf", ["わたくしといふ現象は", "ひとつの青い照明です"]),
    ("pdf/pdfminer__kampo.pdf", ["道路交通法施行令の一部を改正する政令"]),
    ("pdf/pdfminer__nlp2004slides.pdf", ["固有表現の発見", "Computer Science Department"]),
    ("pdf/pdfjs__noembed-sjis.pdf", ["あいうえお"]),
    ("pdf/pdfjs__noembed-eucjp.pdf", ["あいうえお"]),
    ("pdf/pdfjs__noembed-jis7.pdf", ["ABC あいうえお 123"]),
    ("pdf/pdfjs__vertical.pdf", ["日本語"]),
    ("pdf/pypdf__multilang.pdf", ["こんにちは世界", "Привет, мир", "Hello World"]),
    ("pdf/pypdf__r6-user-password.pdf", ["pdf encryption test"]),
    ("pdf/tika__testPDF_protected.pdf", ["RETHINKING THE FINANCIAL NETWORK"]),
    ("pdf/tika__testPDF.pdf", ["Apache Tika is a toolkit"]),
    ("pdf/sample-files__GeoTopo-komprimiert.pdf", ["Geometrie und Topologie", "∅"]),
    ("txt/chardet__SHIFT_JIS___ude_1.txt", ["羅生門", "芥川龍之介", "一人の下人が"]),
    ("txt/chardet__EUC-JP___ude_1.txt", ["コンソール アプリケーション", "universalchardet"]),
    ("txt/tika__english.cp500.txt", ["Warranties, licenses and maintenance", "POWER™ 185", "it’s"]),
    ("txt/tika__russian.cp866.txt", ["Однажды, в студеную зимнюю пору"]),
    ("txt/tika__testTXT_win-1252.txt", ["a “windows” encoding"]),
    ("txt/tika__multi-language.txt", ["español ABC adhoc prácticas", "não contabilize"]),
    ("html/chardet__SHIFT_JIS___chromium_Shift-JIS_with_no_encoding_specified.html", ["衆院議院運営委員会"]),
    ("html/chardet__EUC-JP___mozilla_bug426271_text-euc-jp.html", ["昔々、ある所に子供のいない老夫婦"]),
    ("html/tika__testArabicMisleadingCharset.html", ["في قرية من القرى كان هناك رجل حكيم"]),
    ("html/tika__testHTMLNoisyMetaEncoding_1.html", ["الاتحاد الجزائري"]),
    ("html/tika__testHTML_charset_utf16le.html", ["This is a sample text"]),
    ("html/chardet__UTF-16LE__plane1-utf-16le.html", ["Unicode Plane 1 Example"]),
    ("html/tika__big-preamble.html", ["Континент-Недвижимость"]),
    ("html/squad-explorer__Super_Bowl_50.html", ["Super Bowl 50", "Denver Broncos"]),
    ("md/jemhopqa__README_JA.md", ["はじめに"]),
    ("docx/tika__testWORD_phonetic.docx", ["東京"]),
    ("docx/tika__testWORD_various.docx", ["ゾルゲと尾崎、淡々と最期", "This is a footnote."]),
    ("docx/mammoth__strict-format.docx", ["Test"]),
    ("docx/mammoth__text-box.docx", ["Datum plane"]),
    ("docx/python-docx__hdr-header-footer.docx", ["Header for section-1"]),
    ("epub/tika__testEPUB.epub", ["This is the text for chapter One"]),
    ("epub/tika__testEPUB_xml_ext.epub", ["It was a bright cold day in April"]),
    ("mail/tika__testRFC822_multipart_attachments.eml", ["This is test email for EML1"]),
    ("mail/tika__quoted.mbox", ["> quoted stuff"]),
]
# Text that must not be there: ruby readings, scripts, base64 payloads, dropped Fallback copies.
ABSENT = [
    ("docx/tika__testWORD_phonetic.docx", "とうきょう"),
    ("md/tika__testMARKDOWN_dataURI.md", "R0lGODlh"),
    ("html/tika__testHTML_embedded_img.html", "base64"),
    ("malformed_hostile/tika__testHTMLBadScript.html", "cool script"),
]


def _manifest() -> list[dict[str, str]]:
    if not (CORPUS / "manifest.csv").exists():
        pytest.skip("evaluation corpus not present (../shared/data/docs_corpus)")
    with (CORPUS / "manifest.csv").open(newline="") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def run() -> tuple[list[dict[str, str]], dict[str, ParseResult], float]:
    rows = _manifest()
    started = time.monotonic()
    with ParsePool(workers=2, timeout_s=TIMEOUT_S, memory_mb=2048) as pool:  # OCR needs ~2 GB of address space
        results = {str(path.relative_to(CORPUS)): result
                   for path, result in pool.parse_many(CORPUS / r["file"] for r in rows)}
    return rows, results, time.monotonic() - started


def text_of(result: ParseResult) -> str:
    return "\n".join(p.text for d in result.documents or [] for p in d.parts)


def test_every_file_finishes_in_budget(run) -> None:
    rows, results, elapsed = run
    assert set(results) == {r["file"] for r in rows}
    assert elapsed < PASS_BUDGET_S
    for name, result in results.items():
        assert (result.documents is None) != (result.error is None), name
        assert not (result.error or "").startswith(("timed out", "parser process", "parser ran out")), name


def test_good_files_give_text_or_a_documented_reason(run) -> None:
    rows, results, _ = run
    for row in rows:
        name = row["file"]
        if row["kind"] not in ("normal", "tricky", "encoding") or not is_supported(Path(name)):
            continue
        result = results[name]
        if name in EXPECTED_ERRORS:
            assert (result.error or "").startswith(EXPECTED_ERRORS[name]), (name, result.error)
        elif name in EXPECTED_EMPTY:
            assert result.error is None and not text_of(result).strip(), name
        else:
            assert result.error is None, (name, result.error)
            assert text_of(result).strip(), name


@pytest.mark.parametrize(("name", "needles"), CONTENT)
def test_content(run, name: str, needles: list[str]) -> None:
    text = text_of(run[1][name])
    for needle in needles:
        assert needle in text, (name, needle)


@pytest.mark.parametrize(("name", "needle"), ABSENT)
def test_absent(run, name: str, needle: str) -> None:
    assert needle not in text_of(run[1][name])


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFKC", text).lower())


def test_crazyones_pdf_matches_its_gold_text(run) -> None:
    gold = _words((CORPUS / "txt/pypdf__crazyones.txt").read_text(encoding="utf-8"))
    for name in ("pdf/pypdf__crazyones.pdf", "pdf/sample-files__crazyones-pdfa.pdf"):
        got = _words(text_of(run[1][name]))
        common = sum(min(got.count(w), gold.count(w)) for w in set(gold))
        assert common / len(gold) > 0.97 and len(got) <= len(gold) * 1.03, name


def test_pdf_pages_and_reading_order(run) -> None:
    results = run[1]
    geo = results["pdf/sample-files__GeoTopo-komprimiert.pdf"].documents[0]
    assert {p.page for p in geo.parts} <= set(range(1, 118)) and max(p.page or 0 for p in geo.parts) > 100
    boxes = text_of(results["pdf/tika__testPDFTwoTextBoxes.pdf"])
    order = [boxes.index(s) for s in ("Left column line 1", "Left column line 2", "Right column line 1")]
    assert order == sorted(order)


def test_cp500_reads_as_english(run) -> None:
    text = text_of(run[1]["txt/tika__english.cp500.txt"])
    letters = [c for c in text if not c.isspace()]
    assert sum(c.isascii() for c in letters) / len(letters) > 0.98
    assert len(re.findall(r"\b(the|and|of|for)\b", text)) > 20


def _source_lines(name: str) -> list[str]:
    from ragd.index.parse.encoding import decode

    text: str = decode((CORPUS / name).read_bytes())[0]
    return text.split("\n")


def test_text_and_markdown_line_spans_point_at_the_source(run) -> None:
    rows, results, _ = run
    checked = 0
    for row in rows:
        if row["format"] not in ("txt", "md"):
            continue
        lines = _source_lines(row["file"])
        for part in results[row["file"]].documents[0].parts:
            assert part.line_start is not None and part.line_end is not None
            source = lines[part.line_start - 1 : part.line_end]
            if part.kind == "heading":
                assert part.text.split()[0] in " ".join(source), (row["file"], part)
            elif "data:" not in part.text:
                assert part.text.split("\n") == source, (row["file"], part.line_start)
                checked += 1
    assert checked > 300


def test_html_and_mbox_line_spans_hold_their_text(run) -> None:
    rows, results, _ = run
    for row in rows:
        if row["format"] not in ("html", "mbox") or results[row["file"]].documents is None:
            continue
        lines = [html.unescape(re.sub(r"<[^>]*>", "", line)) for line in _source_lines(row["file"])]
        for doc in results[row["file"]].documents:
            for part in doc.parts:
                if part.line_start is None:
                    continue
                span = " ".join(lines[part.line_start - 1 : part.line_end])
                # non-ASCII words in HTML may be split by markup or entities the cleanup missed
                ascii_only = row["format"] == "html"
                words = [w for w in re.findall(r"\w{3,}", part.text) if w.isascii() or not ascii_only]
                for word in words[:1] + words[-1:]:
                    assert word in span, (row["file"], part.line_start, word)


def test_mailboxes_split_into_messages(run) -> None:
    docs = run[1]["mail/tika__complex.mbox"].documents
    assert [d.key for d in docs] == ["0", "1", "2"]
    assert all(d.title == "Re: question about when shuffle/sort start working" for d in docs)
    assert docs[0].meta["sender"] == "Jothi Padmanabhan <jothipn@yahoo-inc.com>"
    eml = run[1]["mail/tika__testRFC822_multipart_attachments.eml"].documents[0]
    assert eml.title == "EML 1" and "Test TxtA.txt" in eml.meta["attachments"]


def test_epub_chapters_carry_their_titles(run) -> None:
    doc = run[1]["epub/tika__testEPUB.epub"].documents[0]
    part = next(p for p in doc.parts if "chapter One" in p.text)
    assert part.heading[0] == "Chapter 1" and doc.title == "An ePub for Tika"


def test_hostile_and_malformed_outcomes(run) -> None:
    rows, results, _ = run
    for row in rows:
        if row["kind"] not in ("malformed", "hostile"):
            continue
        result = results[row["file"]]
        assert result.error or text_of(result).strip(), row["file"]
    bad = {name.removeprefix("malformed_hostile/"): result for name, result in results.items()}
    assert "Here should not be the POI web site" in text_of(bad["poi__ExternalEntityInText.docx"])
    assert "GIANT JBIG2 BOMB" in text_of(bad["pdfjs__bomb_giant.pdf"])
    assert "Beautiful is better than ugly" in text_of(bad["pdfminer__zen_of_python_corrupted.pdf"])
    assert bad["qpdf__bad1.pdf"].error == "not a PDF file"
    assert (bad["tika__testWORD_truncated.docx"].error or "").startswith("damaged DOCX")


def test_unsupported_formats(run) -> None:
    rows, results, _ = run
    for row in rows:
        if row["format"] == "zip":  # archives are not opened
            result = results[row["file"]]
            assert result.unsupported, row["file"]
            assert result.error == f"unsupported file type: .{row['format']}"


def test_spreadsheets_rtf_and_odt_of_the_first_corpus(run) -> None:
    _, results, _ = run
    for bomb in ("malformed_hostile/poi__poc-xmlbomb.xlsx", "malformed_hostile/poi__poc-shared-strings.xlsx",
                 "malformed_hostile/tika__testODTnotaZipFile.odt"):
        assert results[bomb].error and not results[bomb].unsupported, bomb  # refused with a reason, no hang
    assert "damaged ODT" in (results["malformed_hostile/tika__testODTnotaZipFile.odt"].error or "")
    rtf = results["other/tika__testRTFJapanese.rtf"]
    assert rtf.documents and "ゾルゲと尾崎" in " ".join(p.text for d in rtf.documents for p in d.parts)
