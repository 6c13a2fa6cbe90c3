"""OCR engines compared on the docs_more pictures and scans that ship an expected transcript.

For each engine (``ragd.index.parse.ocr.ENGINES`` whose programs are installed) every picture and scanned
PDF with a ``<file>.expected.txt`` beside it is parsed by ragd's own parser (reading order included; the
OCR cache off), and the text is compared with the transcript: CER = Levenshtein distance / length of the
transcript, both with all whitespace removed. PDFs are read on their first page (the transcripts of the
multi-page ``cardinal.pdf`` apply to each page). Reported per file, and per group: English horizontal,
Japanese horizontal, Japanese vertical (mean CER and median seconds per page). The Japanese transcripts are
NDLOCR-Lite's own output (with its slips), so a Japanese CER is a distance from that engine, not from truth.

    python -m bench.ocr_engines [--data ../shared/data] [--out bench/out] [--engines auto,rapidocr,tesseract]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
GROUPS = ("en horizontal", "ja horizontal", "ja vertical")


def levenshtein(a: str, b: str) -> int:
    """Edit distance by Hyyrö's bit-parallel algorithm (Python integers as bit vectors: fast on pages)."""
    if not a or not b:
        return len(a) or len(b)
    full = (1 << len(a)) - 1
    last = 1 << (len(a) - 1)
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    pv, mv, score = full, 0, len(a)
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = (((eq & pv) + pv) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & full
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = ((ph << 1) | 1) & full
        mh = (mh << 1) & full
        pv = (mh | ~(xv | ph)) & full
        mv = ph & xv
    return score


def cer(hypothesis: str, reference: str) -> float:
    """Character error rate, whitespace ignored (OCR engines and transcripts break lines differently)."""
    hyp, ref = "".join(hypothesis.split()), "".join(reference.split())
    return levenshtein(ref, hyp) / max(1, len(ref))


def group(row: dict[str, str]) -> str:
    if row["lang"] == "ja":
        return "ja vertical" if "VERTICAL" in row["note"] else "ja horizontal"
    return "en horizontal"


def samples(data: Path) -> list[tuple[Path, str, Path]]:
    """(file, group, transcript) for every picture or scan with an expected transcript."""
    root = data / "docs_more"
    with (root / "manifest.csv").open(encoding="utf-8") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    out = []
    for name, row in sorted(rows.items()):
        expected = root / f"{name}.expected.txt"
        if name.startswith(("images/", "scanned_pdf/")) and not name.endswith(".txt") and expected.exists():
            out.append((root / name, group(row), expected))
    return out


def ocr_text(path: Path) -> tuple[str, int]:
    """ragd's OCR text of ``path`` (a PDF's first page) and the number of pages OCR'd (for seconds per page)."""
    from ragd.index.parse import parse_file

    doc = parse_file(path)[0]
    parts = [p for p in doc.parts if p.ocr]
    pages = len(doc.meta["ocr_pages"].split(",")) if "ocr_pages" in doc.meta else 1
    if path.suffix.lower() == ".pdf":
        parts = [p for p in parts if p.page == 1]
    return "\n".join(p.text for p in parts), pages


def run(data: Path, engines: list[str]) -> dict[str, Any]:
    from ragd.index.parse import ocr

    chosen = samples(data)
    report: dict[str, Any] = {"engines": {}, "files": [str(p.relative_to(data / "docs_more")) for p, _, _ in chosen]}
    for engine in engines:
        if engine == "tesseract" and not ocr.tesseract_languages():
            report["engines"][engine] = {"skipped": "tesseract is not installed"}
            continue
        ocr.configure(cache_dir=None, engine=engine)
        per_file: list[dict[str, Any]] = []
        for path, kind, expected in chosen:
            started = time.perf_counter()
            try:
                text, pages = ocr_text(path)
                error = None
            except Exception as exc:  # one file's failure is a row, not the end of the run
                text, pages, error = "", 1, f"{type(exc).__name__}: {exc}"
            seconds = time.perf_counter() - started
            rate = cer(text, expected.read_text(encoding="utf-8"))
            per_file.append({"file": path.name, "group": kind, "cer": round(rate, 4),
                             "seconds_per_page": round(seconds / pages, 2), "error": error})
            print(f"{engine:9} {kind:13} cer {rate:6.3f} {seconds / pages:6.1f} s/page  {path.name}", flush=True)
        groups = {}
        for kind in GROUPS:
            rows = [r for r in per_file if r["group"] == kind]
            if rows:
                groups[kind] = {"files": len(rows), "mean_cer": round(statistics.fmean(r["cer"] for r in rows), 4),
                                "median_seconds_per_page": round(statistics.median(r["seconds_per_page"]
                                                                                   for r in rows), 2)}
        report["engines"][engine] = {"groups": groups, "files": per_file}
    return report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--engines", default="rapidocr,tesseract,auto")
    args = ap.parse_args()
    started = time.perf_counter()
    report = run(args.data, [e for e in args.engines.split(",") if e])
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["machine"] = {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ocr-engines.json").write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    print(json.dumps({e: r.get("groups", r) for e, r in report["engines"].items()}, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
