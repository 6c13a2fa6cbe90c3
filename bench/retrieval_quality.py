"""Retrieval quality on the shared QA sets, through the real pipeline (parse → chunk → embed → stores).

Indexes squad_en + jsquad_ja docs with the 1,400 cranfield_en docs beside them as distractors, then
asks every question and reports, per data set and retrieval mode:
  ans@5   — one of the top-5 hits is from the gold file and its first 1,200 characters contain a gold answer
  hit@1, hit@5, MRR — of the gold file
and nDCG@10 on cranfield_en's graded relevance.

    python -m bench.retrieval_quality [--embedder use-multilingual] [--data ../shared/data] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import time
from pathlib import Path
from typing import Any

from ragd.daemon.config import load
from ragd.daemon.container import Container
from ragd.index.chunk import ChunkSettings
from ragd.index.models import Hit

REPO = Path(__file__).resolve().parents[1]
QA_SETS = ("squad_en", "jsquad_ja")
HIT_CHARS = 1200
DEFAULT_UNIT_TOKENS = ChunkSettings.unit_tokens


def chosen_llm() -> dict[str, str]:
    """The LLM settings in the environment (``RAGD_LLM_MODEL=/path/to/model.gguf``): a benchmark that asks the
    model runs on the one chosen, the default otherwise."""
    return {k: v for k, v in os.environ.items() if k.startswith("RAGD_LLM_")}


def build_index(data: Path, home: Path, embedder: str, unit_tokens: int = DEFAULT_UNIT_TOKENS,
                ) -> tuple[Container, dict[str, Any]]:
    cfg = load({"RAGD_HOME": str(home), "RAGD_EMBEDDER": embedder, "RAGD_PARSE_WORKERS": "2",
                "RAGD_UNIT_TOKENS": str(unit_tokens), **chosen_llm(),
                "RAGD_MODEL_CACHE": os.environ.get("RAGD_MODEL_CACHE", "")})  # a prepared int8 export, if any
    c = Container(cfg)
    roots = [str((data / ds / "docs").resolve()) for ds in (*QA_SETS, "cranfield_en")]
    for r in roots:
        c.catalog.add_source(r)
    stats = c.indexer.run([c.connector(r) for r in roots])
    return c, stats.to_json()


def _questions(data: Path, ds: str) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in (data / ds / "qa.jsonl").read_text(encoding="utf-8").splitlines()]
    for r in rows:
        r["gold_paths"] = {str((data / ds / g).resolve()) for g in r["gold_files"]}
    return rows


def holds_answer(hits: list[Hit], row: dict[str, Any]) -> bool:
    """ans@k: a hit from the gold file whose first ``HIT_CHARS`` characters hold a gold answer."""
    return any(h.path in row["gold_paths"] and any(a in h.text[:HIT_CHARS] for a in row["answers"]) for h in hits)


def qa_metrics(c: Container, rows: list[dict[str, Any]], mode: str) -> dict[str, float]:
    ans5 = hit1 = hit5 = rr = 0.0
    started = time.perf_counter()
    for r in rows:
        hits = c.retriever.search(r["question"], 5, mode)  # type: ignore[arg-type]
        gold = [i for i, h in enumerate(hits) if h.path in r["gold_paths"]]
        if gold:
            hit1 += gold[0] == 0
            hit5 += 1
            rr += 1 / (gold[0] + 1)
        ans5 += holds_answer(hits, r)
    n = len(rows)
    return {"questions": n, "ans@5": ans5 / n, "hit@1": hit1 / n, "hit@5": hit5 / n, "mrr@5": rr / n,
            "ms_per_query": 1000 * (time.perf_counter() - started) / n}


def ndcg10(c: Container, data: Path, mode: str) -> float:
    rows = [json.loads(line) for line in (data / "cranfield_en" / "qa.jsonl").read_text().splitlines()]
    total = 0.0
    for r in rows:
        rel = {str((data / "cranfield_en" / p).resolve()): float(g) for p, g in r["relevance"].items()}
        ranked: list[str] = []
        for h in c.retriever.search(r["question"], 30, mode):  # type: ignore[arg-type]
            if h.path not in ranked:
                ranked.append(h.path)
        dcg = sum(rel.get(p, 0.0) / math.log2(i + 2) for i, p in enumerate(ranked[:10]))
        ideal = sorted(rel.values(), reverse=True)[:10]
        idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
        total += dcg / idcg if idcg else 0.0
    return total / len(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--embedder", default="use+minilm")
    ap.add_argument("--modes", default="hybrid,dense,lexical")
    ap.add_argument("--limit", type=int, default=0, help="questions per set (0 = all)")
    ap.add_argument("--unit-tokens", type=int, default=DEFAULT_UNIT_TOKENS,
                    help="sentences shorter than this are embedded with the next one (fewer vectors when larger)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    name = args.embedder if args.unit_tokens == DEFAULT_UNIT_TOKENS else f"{args.embedder}-u{args.unit_tokens}"
    home = args.out / f"home-{name}"
    if home.exists():  # a fresh index each run: the time and the vectors are this run's
        shutil.rmtree(home)
    started = time.perf_counter()
    c, stats = build_index(args.data, home, args.embedder, args.unit_tokens)
    report: dict[str, Any] = {"embedder": args.embedder, "unit_tokens": args.unit_tokens, "index": stats,
                              "index_seconds": time.perf_counter() - started,
                              "vectors": c.vectors.count(), "results": {}}
    for mode in args.modes.split(","):
        for ds in QA_SETS:
            rows = _questions(args.data, ds)
            rows = rows[: args.limit] if args.limit else rows
            report["results"][f"{ds}/{mode}"] = qa_metrics(c, rows, mode)
        report["results"][f"cranfield_en/{mode}"] = {"ndcg@10": ndcg10(c, args.data, mode)}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"retrieval-{name}.json").write_text(json.dumps(report, indent=2))
    counts = c.catalog.counts()
    report["counts"] = counts
    (args.out / f"retrieval-{name}.json").write_text(json.dumps(report, indent=2))
    print(f"embedder {name}: {counts['indexed']} files, {counts['chunks']} chunks, {report['vectors']} vectors, "
          f"indexed in {report['index_seconds']:.1f} s")
    for key, m in report["results"].items():
        print(f"{key:28s} " + "  ".join(f"{k} {v:.4f}" for k, v in m.items() if k != "questions"))


if __name__ == "__main__":
    main()
