"""The OCR section of ``bench/RESULTS.md``, from ``bench/out/ocr-engines.json`` (``python -m bench.ocr_engines``)."""

from __future__ import annotations

from bench.report_kit import Report, num, sec, table

GROUPS = ("en horizontal", "ja horizontal", "ja vertical")


def ocr_section(r: Report) -> None:
    r.add("## 10. OCR engines\n\nPictures and scanned PDF pages of `docs_more` that ship a transcript, read by ragd's "
          "own parsers (reading order included): character error rate (whitespace ignored; mean per group) and "
          "median seconds per page. The Japanese transcripts are NDLOCR-Lite's output, errors included.")
    d = r.load("ocr-engines.json")
    if d is None:
        r.absent("OCR engines", "python -m bench.ocr_engines")
        return
    rows = []
    for engine, result in (d.get("engines") or {}).items():
        groups = result.get("groups") or {}
        for group in GROUPS:
            g = groups.get(group)
            if g:
                rows.append((engine, group, g.get("files"), num(g.get("mean_cer")),
                             sec(g.get("median_seconds_per_page"))))
    r.add(table(("engine", "text", "files", "CER", "s / page"), rows))
    vertical = (d.get("engines") or {}).get("auto", {}).get("groups", {}).get("ja vertical")
    if vertical and vertical.get("mean_cer", 0) > 0.5:
        r.lose(f"Vertical Japanese pictures (handwritten, woodblock, kanbun) are mostly unread: CER "
               f"{num(vertical.get('mean_cer'))} with the default engine.")
    scanned_section(r)


TARGETS = {"en": 0.05, "ja": 0.10}  # issue 19: scanned ans@5 within this of the text version


def scanned_section(r: Report) -> None:
    r.add("### Retrieval over scans\n\nThe squad_en and jsquad_ja articles printed onto A4 page images (200 dpi, "
          "12 pt) and saved as image-only PDFs, indexed beside the cranfield_en distractors; the same questions "
          "asked of the text files and of their scans in one run (hybrid ans@5, whitespace ignored on both sides).")
    d = r.load("scanned-retrieval.json")
    if d is None:
        r.absent("Retrieval over scans", "python -m bench.scanned_retrieval")
        return
    rows = []
    for ds, s in (d.get("sets") or {}).items():
        rows.append((ds, s.get("articles"), s.get("pages"), s.get("questions"), num(s.get("ans@5_text")),
                     num(s.get("ans@5_scan")), num(s.get("difference"))))
        limit = TARGETS.get(str(s.get("lang")))
        if limit is not None and s.get("difference") is not None and s["difference"] > limit:
            r.lose(f"{ds} read from scans: ans@5 {num(s.get('ans@5_scan'))} against {num(s.get('ans@5_text'))} "
                   f"for the text (target: within {limit:g}).")
    r.add(table(("set", "articles", "pages", "questions", "ans@5 text", "ans@5 scan", "difference"), rows))
    index_s = d.get("index_s") or {}
    r.add(f"Indexing took {sec(index_s.get('text'))} for the text and {sec(index_s.get('scan'))} for the scans "
          "(OCR included).")
