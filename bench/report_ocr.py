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
