"""Answer quality of `ragd ask` on the shared QA sets, with the configured (default: SmolLM2-135M) model.

Three runs, each on its own index:
  1. all articles of the set indexed; a sample of its questions asked:
       citations verified — every shown citation checked independently of ragd's parser: the quote,
                            whitespace-normalised, occurs in the raw file's lines line_start..line_end
                            (HTML tags dropped and entities decoded for .html files)
       gold cited         — the gold file is among the cited files
       gold answer        — the answer contains a gold answer string
  2. half of the articles indexed; questions about the other half asked ("not indexed"): grounded: false rate
  3. the other data set's questions (other language, other articles) against index 1: grounded: false rate

    python -m bench.answer_quality [--data ../shared/data] [--dataset squad_en] [--sample 150] [--out bench/out]

More answers to label (``bench/labels``), run 1 only, on questions not asked before:

    python -m bench.answer_quality --dataset squad_en --seed 8 --exclude bench/out/answers-squad_en.json \
        --indexed-only --name answers-squad_en-3.json

Another model: ``RAGD_LLM_MODEL=/path/to/model.gguf`` (any ``RAGD_LLM_*`` setting is passed on).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.retrieval_quality import chosen_llm
from ragd.daemon.config import load
from ragd.daemon.container import Container

REPO = Path(__file__).resolve().parents[1]
_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
EXTRACTIVE_PREFIXES = ("The passage of your files", "ファイルの中で")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip()


def citation_holds(cit: dict[str, Any]) -> bool:
    """The quote is in the file at the cited lines (an independent check of ragd's own verification)."""
    raw = Path(cit["path"]).read_text(encoding="utf-8", errors="replace")
    lines = raw.splitlines()
    if cit["line_start"]:
        raw = "\n".join(lines[cit["line_start"] - 1 : cit["line_end"]])
    if cit["path"].endswith((".html", ".htm")):
        raw = html.unescape(_TAG.sub(" ", raw))
    return _norm(cit["quote"]) in _norm(raw)


def build(home: Path, docs: list[Path]) -> Container:
    cfg = load({"RAGD_HOME": str(home), "RAGD_MODEL_CACHE": os.environ.get("RAGD_MODEL_CACHE", ""), **chosen_llm()})
    c = Container(cfg, env=dict(os.environ))
    folder = home / "docs"
    folder.mkdir(parents=True, exist_ok=True)
    for d in docs:
        shutil.copyfile(d, folder / d.name)  # a copy: links out of a source are not followed
    c.catalog.add_source(str(folder))
    c.indexer.run([c.connector(str(folder))])
    return c


def questions(data: Path, ds: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (data / ds / "qa.jsonl").read_text(encoding="utf-8").splitlines()]


def ask_all(c: Container, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each answer's JSON, with the gold data and the passages the model was given (``sources``: for labelling
    its sentences against exactly what the model saw)."""
    out = []
    given: list[list[dict[str, Any]]] = []
    prompt = c.asker.prompt

    def recording(*args: Any, **kwargs: Any) -> Any:
        messages, sources = prompt(*args, **kwargs)
        given.append([{"n": s.n, "path": Path(s.hit.path).name, "title": s.hit.title, "heading": list(s.hit.heading),
                       "page": s.hit.page, "line_start": s.hit.line_start, "line_end": s.hit.line_end,
                       "text": s.hit.text} for s in sources])
        return messages, sources

    c.asker.prompt = recording  # type: ignore[method-assign]
    try:
        for r in rows:
            given.clear()
            answer = c.asker.ask(r["question"]).to_json()
            answer["gold_files"] = [Path(g).name for g in r["gold_files"]]
            answer["answers"] = r["answers"]
            answer["sources"] = given[0] if given else []
            out.append(answer)
    finally:
        del c.asker.prompt
    return out


def support_shares(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Of the answers' sentences (answers written by the model, not refusals or ragd's quoted fallback): the share
    judged supported, partly and unsupported, and the mean of the answers' supported_share."""
    written = [r for r in results if r["grounded"] and not r["answer"].startswith(EXTRACTIVE_PREFIXES)]
    sentences = [s for r in written for s in r["sentences"]]
    n = max(1, len(sentences))
    shares = [r["supported_share"] for r in written if r["supported_share"] is not None]
    return {"answers": len(written), "sentences": len(sentences),
            **{f"{v}": sum(s["support"] == v for s in sentences) / n for v in ("supported", "partly", "unsupported")},
            "mean_supported_share": sum(shares) / max(1, len(shares))}


def score_indexed(results: list[dict[str, Any]]) -> dict[str, Any]:
    cits = [cit for r in results for cit in r["citations"]]
    gold_cited = sum(any(Path(cit["path"]).name in r["gold_files"] for cit in r["citations"]) for r in results)
    gold_answer = sum(any(a.lower() in r["answer"].lower() for a in r["answers"]) for r in results)
    first = sorted(r["timings"].get("first_token", 0.0) for r in results if "first_token" in r["timings"])
    return {
        "questions": len(results),
        "grounded": sum(r["grounded"] for r in results) / len(results),
        "citations": len(cits),
        "citations_verified": sum(citation_holds(c) for c in cits) / max(1, len(cits)),
        "gold_cited": gold_cited / len(results),
        "gold_answer": gold_answer / len(results),
        "extractive": sum(r["answer"].startswith(EXTRACTIVE_PREFIXES) for r in results) / len(results),
        "median_first_token_s": first[len(first) // 2] if first else None,
    }


def not_grounded_rate(results: list[dict[str, Any]]) -> dict[str, Any]:
    return {"questions": len(results), "not_grounded": sum(not r["grounded"] for r in results) / len(results)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--dataset", default="squad_en", choices=["squad_en", "jsquad_ja"])
    ap.add_argument("--sample", type=int, default=150)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--exclude", type=Path, action="append", default=[],
                    help="an answers file whose questions are not asked again")
    ap.add_argument("--indexed-only", action="store_true", help="run 1 only (answers to label)")
    ap.add_argument("--name", help="the answers file's name (default answers-<dataset>.json)")
    args = ap.parse_args()
    other = "jsquad_ja" if args.dataset == "squad_en" else "squad_en"
    rng = random.Random(args.seed)
    docs = sorted((args.data / args.dataset / "docs").iterdir())
    asked = {a["question"] for f in args.exclude for a in json.loads(f.read_text(encoding="utf-8"))["answers"]}
    rows = [r for r in questions(args.data, args.dataset) if r["question"] not in asked]
    report: dict[str, Any] = {"dataset": args.dataset, "sample": args.sample}
    tmp = Path(tempfile.mkdtemp(prefix="ragd-answers-"))
    try:
        started = time.perf_counter()
        c = build(tmp / "all", docs)
        full = ask_all(c, rng.sample(rows, args.sample))
        report["indexed"] = score_indexed(full)
        report["support"] = support_shares(full)
        if not args.indexed_only:
            foreign = ask_all(c, rng.sample(questions(args.data, other), args.sample // 2))
            report["other_dataset"] = not_grounded_rate(foreign)
        c.close()
        if not args.indexed_only:
            half, held_out = docs[::2], {d.name for d in docs[1::2]}
            c = build(tmp / "half", half)
            unseen = [r for r in rows if Path(r["gold_files"][0]).name in held_out]
            report["held_out_articles"] = not_grounded_rate(ask_all(c, rng.sample(unseen, args.sample // 2)))
            c.close()
        report["model"] = full[0]["model"] if full else ""
        report["seconds"] = round(time.perf_counter() - started, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    answers = json.dumps({"report": report, "answers": full}, ensure_ascii=False, indent=1)
    (args.out / (args.name or f"answers-{args.dataset}.json")).write_text(answers)
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
