"""PDF: text per page (``Part.page`` is 1-based); no line spans.

Engine choice, measured on the evaluation corpus: pypdf is 2–5x faster than
pdfminer.six and as good or better on Latin, Arabic and form-XObject text, but it
lacks Adobe's CJK character collections, so pages using CJK CID fonts without a
``/ToUnicode`` map (common in Japanese PDFs) come out as garbage. Those pages, and
pages pypdf fails on, are extracted with pdfminer.six (with vertical-writing
detection). Encrypted files are opened with the empty password or refused.
Pages without a usable text layer (fewer than ``MIN_TEXT_CHARS`` characters) that show images are
rendered with pypdfium2 and read by OCR (``ragd.index.parse.ocr``): their parts have ``ocr=True`` and
lines counted within the page's OCR text; pages with text keep it. Embedded images over
``MAX_EMBEDDED_PIXELS`` are refused before anything is decoded, and OCR stops at the worker's time budget
(the pages left are named in ``meta["ocr_skipped_pages"]``), so a scan is never the reason a worker times
out. A blank PDF gives a document without parts.
"""

from __future__ import annotations

import io
import logging
import math
import re
import unicodedata
import warnings
from pathlib import Path
from typing import Any

from ragd.index.errors import ParseError
from ragd.index.models import Document, Part
from ragd.index.parse import ocr
from ragd.index.parse.image import ocr_parts

log = logging.getLogger(__name__)

_CJK_ORDERINGS = frozenset({"Japan1", "GB1", "CNS1", "Korea1", "KR"})
_IDENTITY = frozenset({"/Identity-H", "/Identity-V"})
_CID = re.compile(r"\(cid:\d+\)")
_TRAILING = re.compile(r"[ \t]+\n")
_BLANKS = re.compile(r"\n{3,}")
# Ligatures and Arabic presentation forms become ordinary letters (searchable).
_COMPAT = re.compile(r"[\ufb00-\ufb06\ufb13-\ufb17\ufb50-\ufdff\ufe70-\ufefe]+")
MAX_RESOURCE_DEPTH = 4
MIN_TEXT_CHARS = 8  # a page with fewer non-space characters of text (and an image) is OCR'd
RENDER_DPI = 300  # Tesseract's preferred resolution; RapidOCR scales to 2000 px on the long side itself
MAX_RENDER_SIDE = 4000  # pixels on a rendered page's long side (a poster page is read at lower dpi)
MAX_EMBEDDED_PIXELS = 2 * ocr.MAX_PIXELS  # an image in a PDF page: pdfium decodes it whole to render


def clean_page_text(text: str) -> str:
    text = _CID.sub("", text.replace("\x00", ""))
    text = _COMPAT.sub(lambda m: unicodedata.normalize("NFKC", m.group(0)), text)
    text = _TRAILING.sub("\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return _BLANKS.sub("\n\n", text).strip()


def _get(obj: Any, key: str) -> Any:
    try:
        value = obj.get(key)
        return value.get_object() if value is not None else None
    except Exception:  # a broken reference in a damaged file
        return None


def _font_needs_cmaps(font: Any) -> bool:
    """A Type0 font whose Unicode mapping pypdf cannot derive (CJK collection, no /ToUnicode)."""
    if _get(font, "/Subtype") != "/Type0" or font.get("/ToUnicode") is not None:
        return False
    encoding = _get(font, "/Encoding")
    if isinstance(encoding, str) and encoding not in _IDENTITY:
        return True  # a predefined CMap such as /90ms-RKSJ-H or /EUC-H
    descendants = _get(font, "/DescendantFonts")
    try:
        info = _get(descendants[0].get_object(), "/CIDSystemInfo") if descendants else None
    except Exception:
        return False
    return info is not None and str(_get(info, "/Ordering")) in _CJK_ORDERINGS


def _scan_resources(resources: Any, seen: set[int], depth: int = 0,
                    sizes: list[int] | None = None) -> tuple[bool, bool]:
    """(uses fonts that need CJK CMaps, has images) for a resource dictionary and its forms.

    The pixel counts of the images found are added to ``sizes``.
    """
    cjk = images = False
    if resources is None or depth > MAX_RESOURCE_DEPTH or id(resources) in seen:
        return cjk, images
    seen.add(id(resources))
    fonts = _get(resources, "/Font")
    if hasattr(fonts, "values"):
        for ref in list(fonts.values())[:64]:
            try:
                cjk = cjk or _font_needs_cmaps(ref.get_object())
            except Exception:
                continue
    xobjects = _get(resources, "/XObject")
    if hasattr(xobjects, "values"):
        for ref in list(xobjects.values())[:256]:
            try:
                xobj = ref.get_object()
                subtype = _get(xobj, "/Subtype")
            except Exception:
                continue
            if subtype == "/Image":
                images = True
                if sizes is not None:
                    sizes.append(_pixels(xobj))
            elif subtype == "/Form":
                sub_cjk, sub_images = _scan_resources(_get(xobj, "/Resources"), seen, depth + 1, sizes)
                cjk, images = cjk or sub_cjk, images or sub_images
    return cjk, images


def _pixels(image: Any) -> int:
    try:
        return max(0, int(_get(image, "/Width") or 0)) * max(0, int(_get(image, "/Height") or 0))
    except (TypeError, ValueError):
        return 0


def _ocr_pages(data: bytes, numbers: list[int], sizes: dict[int, list[int]]) -> tuple[dict[int, list[str]],
                                                                                    dict[int, str], list[int]]:
    """OCR lines of the given (0-based) pages: (lines per page, refusal per page, pages left for lack of time)."""
    import pypdfium2 as pdfium

    lines: dict[int, list[str]] = {}
    refused: dict[int, str] = {}
    budget = ocr.file_budget()
    document: Any = None
    try:
        for position, number in enumerate(numbers):
            biggest = max(sizes.get(number, [0]), default=0)
            if biggest > MAX_EMBEDDED_PIXELS:
                refused[number] = f"refused: image too large ({biggest / 1e6:.0f} megapixels)"
                continue
            if position and budget.spent():
                return lines, refused, numbers[position:]
            if document is None:
                try:
                    document = pdfium.PdfDocument(data, password="")
                except pdfium.PdfiumError as exc:
                    raise ParseError(f"cannot render the PDF for OCR: {exc}") from None
            try:
                lines[number] = _ocr_page(document[number])
            except ParseError as exc:
                refused[number] = str(exc)
            except pdfium.PdfiumError as exc:  # one damaged page: the others (and the text pages) still count
                refused[number] = f"damaged page: {exc}"

    finally:
        if document is not None:
            document.close()
    return lines, refused, []


def _ocr_page(page: Any) -> list[str]:
    """Render one page (at ``RENDER_DPI``, within the size caps) and OCR it, or take its lines from the cache."""
    width, height = page.get_size()
    if width <= 0 or height <= 0:
        raise ParseError("damaged PDF page: empty page box")
    scale = min(RENDER_DPI / 72, MAX_RENDER_SIDE / max(width, height), math.sqrt(ocr.MAX_PIXELS / (width * height)))
    bitmap = page.render(scale=scale, grayscale=True)
    try:
        image = bitmap.to_pil()
        key = ocr.image_key(image.tobytes(), f"pdf page {image.mode} {image.width}x{image.height}")
        return ocr.read_lines(key, lambda: image)
    finally:
        bitmap.close()


def _pdfminer_pages(data: bytes, page_numbers: set[int] | None) -> dict[int, str]:
    """Text of the given (0-based) pages, or of all pages, with pdfminer.six."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTFigure, LTTextContainer
    from pdfminer.pdfdocument import PDFPasswordIncorrect

    def texts(container: Any) -> list[str]:
        out: list[str] = []
        for item in container:
            if isinstance(item, LTTextContainer):
                out.append(item.get_text())
            elif isinstance(item, LTFigure):
                out.extend(texts(item))
        return out

    pages: dict[int, str] = {}
    laparams = LAParams(detect_vertical=True, all_texts=True)
    numbers = sorted(page_numbers) if page_numbers is not None else None
    try:
        for index, layout in enumerate(extract_pages(io.BytesIO(data), password="", page_numbers=page_numbers,
                                                     laparams=laparams)):
            number = numbers[index] if numbers is not None else index
            pages[number] = clean_page_text("\n".join(texts(layout)))
    except PDFPasswordIncorrect:
        raise ParseError("encrypted PDF: password required") from None
    except (ParseError, MemoryError):
        raise
    except Exception as exc:  # keep the pages read before the damage
        log.debug("pdfminer stopped: %s", exc)
        if not pages:
            raise
    return pages


def _open(data: bytes) -> Any:
    import pypdf
    from pypdf.errors import DependencyError, FileNotDecryptedError

    reader = pypdf.PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted:
        try:
            opened = bool(reader.decrypt(""))
        except (DependencyError, NotImplementedError) as exc:
            raise ParseError(f"encrypted PDF: unsupported encryption ({exc})") from None
        except FileNotDecryptedError:
            opened = False
        if not opened:
            raise ParseError("encrypted PDF: password required")
    return reader


def _title(reader: Any) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:
        return None
    return (" ".join(str(title).split()) or None) if title else None


def _pdfminer_only(data: bytes, cause: Exception) -> Document:
    """For files pypdf cannot open or walk: pdfminer's reading, or the reason it failed."""
    log.debug("pypdf cannot read the file: %s", cause)
    try:
        pages = _pdfminer_pages(data, None)
    except ParseError:
        raise
    except Exception:
        raise ParseError(f"damaged PDF: {type(cause).__name__}: {str(cause)[:160]}") from None
    parts = [Part(text, page=n + 1) for n, text in sorted(pages.items()) if text]
    if not parts:
        raise ParseError("no extractable text (damaged PDF)")
    return Document(parts=parts)


def parse_pdf(data: bytes) -> Document:
    try:
        reader = _open(data)
        pages = list(reader.pages)
    except ParseError:
        raise
    except Exception as exc:
        return _pdfminer_only(data, exc)

    texts: dict[int, str] = {}
    for_pdfminer: set[int] = set()
    with_images: dict[int, list[int]] = {}
    damaged = False
    for number, page in enumerate(pages):
        sizes: list[int] = []
        cjk, images = _scan_resources(_get(page, "/Resources"), set(), sizes=sizes)
        if images:
            with_images[number] = sizes
        if cjk:
            for_pdfminer.add(number)
            continue
        try:
            texts[number] = clean_page_text(page.extract_text())
        except MemoryError:
            raise
        except Exception as exc:
            log.debug("pypdf failed on page %d: %s", number + 1, exc)
            for_pdfminer.add(number)
            damaged = True
    if for_pdfminer:
        try:
            texts.update(_pdfminer_pages(data, for_pdfminer))
        except ParseError:
            raise
        except Exception as exc:
            log.debug("pdfminer failed too: %s", exc)
            damaged = True
    meta = {"pages": str(len(pages))}
    scanned = [n for n in sorted(with_images) if len("".join(texts.get(n, "").split())) < MIN_TEXT_CHARS]
    read, refused, skipped = _ocr_pages(data, scanned, with_images) if scanned else ({}, {}, [])
    parts: list[Part] = []
    for number in range(len(pages)):
        if read.get(number):
            parts.extend(ocr_parts(read[number], number + 1))
        elif texts.get(number):
            parts.append(Part(texts[number], page=number + 1))
    if read:
        meta["ocr_pages"] = ",".join(str(n + 1) for n in sorted(read))
    if refused:
        meta["ocr_refused_pages"] = ",".join(str(n + 1) for n in sorted(refused))
        log.info("PDF pages not OCR'd: %s", "; ".join(f"{n + 1}: {why}" for n, why in sorted(refused.items())))
    if skipped:
        meta["ocr_skipped_pages"] = ",".join(str(n + 1) for n in skipped)
        log.warning("OCR stopped for lack of time; pages left: %s", meta["ocr_skipped_pages"])
    if not parts and refused and not read:
        raise ParseError(next(iter(refused.values())))
    if not parts and damaged:
        raise ParseError("no extractable text (damaged PDF)")
    return Document(parts=parts, title=_title(reader), meta=meta)


class PdfParser:
    suffixes: tuple[str, ...] = (".pdf",)

    def parse(self, path: Path, data: bytes) -> list[Document]:
        if b"%PDF-" not in data[:4096]:
            raise ParseError("not a PDF file")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return [parse_pdf(data)]
