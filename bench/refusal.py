"""Refusal on near misses: is a question about an article that is *not* indexed refused before the model is asked,
and is a question about an indexed article still answered?

For each QA set, half of the articles are indexed (the even ones, then the odd ones: two halves) and every
question of the set is put to ragd's evidence check (``grounding.assess`` + ``grounding.supports``, the step that
decides whether the model is asked at all). Questions about the other half are near misses: the same kind of
article, the same language. Reported per set and half: the share of near misses refused and the share of
answerable questions let through, for the configured thresholds; ``--dump`` also writes each question's evidence
so that thresholds can be chosen on one half and checked on the other.

    python -m bench.refusal [--data ../shared/data] [--out bench/out] [--dump]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.answer_quality import build, questions
from ragd.index.answer import grounding, prompt
from ragd.index.tokenize import query_terms

REPO = Path(__file__).resolve().parents[1]
SETS = ("squad_en", "jsquad_ja")


def evidence_row(c: Any, question: str) -> dict[str, Any]:
    hits, evidence = c.asker.retrieve(question)
    terms = query_terms(question)
    total, df = c.catalog.document_frequencies(terms) if terms else (0, {})
    best = set(evidence.terms_per_hit[evidence.best]) if evidence.per_hit else set()
    idf = {t: math.log((total + 1) / (df.get(t, 0) + 0.5)) for t in terms}
    settings = c.asker.settings.grounding[prompt.language(question)]
    return {"coverage": evidence.coverage, "dense": evidence.dense, "unknown_names": sorted(evidence.unknown_names),
            "supports": grounding.supports(evidence, settings),
            "terms": [{"term": t, "idf": round(idf[t], 3), "df": df.get(t, 0), "in_best": t in best} for t in terms],
            "hits": len(hits)}


def run_half(data: Path, ds: str, half: int, tmp: Path, dump: bool) -> dict[str, Any]:
    docs = sorted((data / ds / "docs").iterdir())
    indexed = {d.name for d in docs[half::2]}
    c = build(tmp / f"{ds}-{half}", docs[half::2])
    rows: list[dict[str, Any]] = []
    try:
        for r in questions(data, ds):
            row = evidence_row(c, r["question"])
            row["indexed"] = Path(r["gold_files"][0]).name in indexed
            row["question"] = r["question"]
            rows.append(row)
    finally:
        c.close()
    seen = [r for r in rows if r["indexed"]]
    unseen = [r for r in rows if not r["indexed"]]
    result: dict[str, Any] = {
        "indexed_articles": len(indexed), "answerable": len(seen), "near_misses": len(unseen),
        "answerable_let_through": sum(r["supports"] for r in seen) / max(1, len(seen)),
        "near_misses_refused": sum(not r["supports"] for r in unseen) / max(1, len(unseen)),
    }
    if dump:
        result["rows"] = rows
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--dump", action="store_true", help="write each question's evidence too (refusal-rows.json)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    report: dict[str, Any] = {"sets": {}}
    tmp = Path(tempfile.mkdtemp(prefix="ragd-refusal-"))
    try:
        for ds in SETS:
            report["sets"][ds] = {f"half {h}": run_half(args.data, ds, h, tmp, args.dump) for h in (0, 1)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["thresholds"] = {lang: dataclasses.asdict(s) for lang, s in grounding.BY_LANGUAGE.items()}
    args.out.mkdir(parents=True, exist_ok=True)
    if args.dump:
        (args.out / "refusal-rows.json").write_text(json.dumps(report, ensure_ascii=False))
    for half in report["sets"].values():
        for h in half.values():
            h.pop("rows", None)
    (args.out / "refusal.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
