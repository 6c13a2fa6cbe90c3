"""Retrieval over scans: the squad_en and jsquad_ja articles indexed as image-only PDFs, against their text.

Each article is parsed as ragd parses it (its text, without markup), then printed onto A4 pages at 200 dpi
(DejaVu Sans for English, Noto Sans CJK for Japanese; 12 pt) and saved as a PDF that holds only the page
images, as a scanner would make it. Two indexes are built in one run, each with the cranfield_en documents
beside them as distractors: one over the articles' own files, one over their scans (read by OCR). Every
question of both sets is asked of both; ans@5 as in ``bench.retrieval_quality`` (a top-5 hit from the gold
article holding a gold answer in its first 1,200 characters), with whitespace ignored on both sides, since OCR
adds and drops spaces (in Japanese above all) that a reader would not count as a different answer.

    python -m bench.scanned_retrieval [--limit N] [--embedder use+minilm] [--out bench/out]

Writes OUT/scanned-retrieval.json. Targets (issue 19): scanned ans@5 within 0.05 of text in English, 0.10 in
Japanese.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ragd.daemon.config import load
from ragd.daemon.container import Container
from ragd.index.parse import parse_file

REPO = Path(__file__).resolve().parents[1]
SETS = {"squad_en": "en", "jsquad_ja": "ja"}
HIT_CHARS = 1200
DPI = 200
PAGE = (1654, 2339)  # A4 at 200 dpi
MARGIN = 140
FONT_PX = 33  # 12 pt at 200 dpi
FONTS = {"en": "DejaVu Sans", "ja": "Noto Sans CJK JP"}
_SPACE = re.compile(r"\s+")


def font_file(family: str) -> str:
    """The font file fontconfig picks for ``family`` (fonts-noto-cjk and DejaVu come with the system packages)."""
    found = subprocess.run(["fc-match", "-f", "%{file}", family], capture_output=True, text=True, check=True).stdout
    if not found:
        raise SystemExit(f"no font for {family!r}: install fonts-dejavu and fonts-noto-cjk")
    return found


def article_text(path: Path) -> str:
    """The article as ragd reads it: its parts' text, a blank line between them."""
    return "\n\n".join(p.text for d in parse_file(path) for p in d.parts if p.text.strip())


def _wrap(paragraph: str, font: Any, width: int, lang: str) -> list[str]:
    """Lines of at most ``width`` pixels: by words in English, by characters in Japanese."""
    tokens = paragraph.split() if lang == "en" else list(paragraph.replace("\n", ""))
    joiner = " " if lang == "en" else ""
    lines: list[str] = []
    line = ""
    for token in tokens:
        candidate = f"{line}{joiner}{token}" if line else token
        if font.getlength(candidate) <= width or not line:
            line = candidate
        else:
            lines.append(line)
            line = token
    if line:
        lines.append(line)
    return lines


def render_scan(text: str, lang: str, target: Path) -> int:
    """Print ``text`` on A4 page images and save them as an image-only PDF; the number of pages."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.truetype(font_file(FONTS[lang]), FONT_PX)
    step = int(FONT_PX * 1.45)
    width = PAGE[0] - 2 * MARGIN
    lines: list[str] = []
    for paragraph in text.split("\n\n"):
        lines.extend(_wrap(" ".join(paragraph.split()) if lang == "en" else paragraph, font, width, lang))
        lines.append("")
    per_page = (PAGE[1] - 2 * MARGIN) // step
    pages = []
    for first in range(0, len(lines), per_page):
        page = Image.new("L", PAGE, 255)
        draw = ImageDraw.Draw(page)
        for i, line in enumerate(lines[first:first + per_page]):
            draw.text((MARGIN, MARGIN + i * step), line, font=font, fill=0)
        pages.append(page)
    target.parent.mkdir(parents=True, exist_ok=True)
    pages[0].save(target, "PDF", resolution=DPI, save_all=True, append_images=pages[1:])
    return len(pages)


def render_set(data: Path, ds: str, out: Path) -> dict[str, int]:
    """Every article of ``ds`` as a scan under ``out/ds/docs`` (same stem, .pdf); pages per article."""
    pages = {}
    for doc in sorted((data / ds / "docs").iterdir()):
        pages[doc.name] = render_scan(article_text(doc), SETS[ds], out / ds / "docs" / f"{doc.stem}.pdf")
    return pages


def build(home: Path, roots: list[Path], embedder: str) -> tuple[Container, dict[str, Any], float]:
    cfg = load({"RAGD_HOME": str(home), "RAGD_EMBEDDER": embedder, "RAGD_PARSE_WORKERS": "2",
                "RAGD_PARSE_TIMEOUT_S": "1800", "RAGD_MODEL_CACHE": os.environ.get("RAGD_MODEL_CACHE", "")})
    c = Container(cfg)
    for r in roots:
        c.catalog.add_source(str(r))
    started = time.perf_counter()
    stats = c.indexer.run([c.connector(str(r)) for r in roots])
    return c, stats.to_json(), time.perf_counter() - started


def _squash(text: str) -> str:
    return _SPACE.sub("", text)


def ans_at_5(c: Container, rows: list[dict[str, Any]], gold_of: Any) -> float:
    found = 0
    for r in rows:
        gold = {gold_of(g) for g in r["gold_files"]}
        answers = [_squash(a) for a in r["answers"]]
        hits = c.retriever.search(r["question"], 5, "hybrid")
        found += any(h.path in gold and any(a in _squash(h.text[:HIT_CHARS]) for a in answers) for h in hits)
    return found / len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--embedder", default="use+minilm")
    ap.add_argument("--limit", type=int, default=0, help="questions per set (0 = all)")
    ap.add_argument("--no-distractors", action="store_true", help="leave cranfield_en out of both indexes")
    args = ap.parse_args()
    data = args.data.resolve()
    work = Path(tempfile.mkdtemp(prefix="ragd-scanned-"))
    try:
        scans = work / "scans"
        started = time.perf_counter()
        pages = {ds: render_set(data, ds, scans) for ds in SETS}
        render_s = time.perf_counter() - started
        extra = [] if args.no_distractors else [data / "cranfield_en" / "docs"]
        text_c, text_stats, text_s = build(work / "home-text", [data / ds / "docs" for ds in SETS] + extra,
                                           args.embedder)
        scan_c, scan_stats, scan_s = build(work / "home-scan", [scans / ds / "docs" for ds in SETS] + extra,
                                           args.embedder)
        report: dict[str, Any] = {"params": {"embedder": args.embedder, "dpi": DPI, "font_px": FONT_PX,
                                             "distractors": not args.no_distractors, "limit": args.limit},
                                  "render_s": render_s, "index_s": {"text": text_s, "scan": scan_s},
                                  "index_stats": {"text": text_stats, "scan": scan_stats}, "sets": {}}
        for ds, lang in SETS.items():
            rows = [json.loads(line) for line in (data / ds / "qa.jsonl").read_text(encoding="utf-8").splitlines()]
            rows = rows[: args.limit] if args.limit else rows
            text = ans_at_5(text_c, rows, lambda g, ds=ds: str((data / ds / g).resolve()))
            scan = ans_at_5(scan_c, rows, lambda g, ds=ds: str((scans / ds / g).with_suffix(".pdf").resolve()))
            report["sets"][ds] = {"lang": lang, "questions": len(rows), "pages": sum(pages[ds].values()),
                                  "articles": len(pages[ds]), "ans@5_text": text, "ans@5_scan": scan,
                                  "difference": text - scan, "ratio": scan / text if text else None,
                                  "median_pages_per_article": statistics.median(pages[ds].values())}
        text_c.close()
        scan_c.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scanned-retrieval.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))
    for ds, s in report["sets"].items():
        print(f"{ds}: {s['articles']} articles, {s['pages']} pages, {s['questions']} questions: ans@5 text "
              f"{s['ans@5_text']:.3f}, scan {s['ans@5_scan']:.3f} (difference {s['difference']:+.3f})")
    print(f"rendering {render_s:.0f} s; indexing text {text_s:.0f} s, scans {scan_s:.0f} s")


if __name__ == "__main__":
    main()
