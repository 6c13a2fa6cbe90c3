"""How well the per-sentence support check finds what the files do not say, on hand-labelled answer sentences.

``bench/labels/support-<set>.jsonl`` holds sentences that the default model (SmolLM2-135M) wrote in answers to
``squad_en`` and ``jsquad_ja`` questions (``bench.answer_quality`` records them with the passages the model was
given), each labelled by reading it against those passages: ``supported`` when everything it says is in them,
``unsupported`` when anything is not (an invented detail, a wrong number or name, a contradiction). The labels
were made without looking at the checker's verdicts.

The checker is run again here, on the same answer and passages (``support.judge_answer``). Reported per set:
  caught        — of the unsupported sentences, the share the checker flags (verdict partly or unsupported)
  false flags   — of the supported sentences, the share it flags
  and the same with only the verdict ``unsupported`` counted as a flag (strict).

    python -m bench.support_quality [--labels bench/labels] [--out bench/out]
    python -m bench.support_quality --extract bench/out/answers-squad_en.json   # sentences to label, no verdicts
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path
from typing import Any

from ragd.index.answer import support
from ragd.index.answer.models import Source
from ragd.index.models import Hit

REPO = Path(__file__).resolve().parents[1]
SETS = ("squad_en", "jsquad_ja")
EXTRACTIVE_PREFIXES = ("The passage of your files", "ファイルの中で")


def sources_of(row: dict[str, Any]) -> list[Source]:
    return [Source(s["n"], Hit(chunk_id=f"s{s['n']}", path=s["path"], text=s["text"], score=0.0, page=None,
                               line_start=None, line_end=None, heading=tuple(s.get("heading", ())),
                               title=s.get("title")))
            for s in row["sources"]]


def extract(answers_file: Path) -> list[dict[str, Any]]:
    """The sentences of the model-written answers in ``answers_file``, to be labelled (no verdicts shown)."""
    rows = []
    for a in json.loads(answers_file.read_text(encoding="utf-8"))["answers"]:
        if not a["grounded"] or a["answer"].startswith(EXTRACTIVE_PREFIXES) or not a.get("sources"):
            continue
        for i, s in enumerate(a["sentences"]):
            rows.append({"question": a["question"], "answer": a["answer"], "sentence": i, "text": s["text"],
                         "sources": a["sources"], "label": ""})
    return rows


def verdicts(row: dict[str, Any]) -> list[str]:
    return [j.verdict for _, j in support.judge_answer(row["answer"], sources_of(row), row["question"])]


def score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    judged = []
    for r in rows:
        got = verdicts(r)
        if r["sentence"] < len(got):
            judged.append((r["label"], got[r["sentence"]]))
    bad = [v for label, v in judged if label == "unsupported"]
    good = [v for label, v in judged if label == "supported"]
    return {
        "sentences": len(judged), "labelled_unsupported": len(bad), "labelled_supported": len(good),
        "caught": sum(v != "supported" for v in bad) / max(1, len(bad)),
        "false_flags": sum(v != "supported" for v in good) / max(1, len(good)),
        "caught_strict": sum(v == "unsupported" for v in bad) / max(1, len(bad)),
        "false_flags_strict": sum(v == "unsupported" for v in good) / max(1, len(good)),
        "verdicts": {v: sum(got == v for _, got in judged) for v in support.VERDICTS},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", type=Path, default=REPO / "bench" / "labels")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--extract", type=Path, help="print the sentences of this answers file as JSON lines to label")
    ap.add_argument("--sample", type=int, default=0, help="with --extract: this many sentences at random (seed 5)")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    if args.extract:
        rows = extract(args.extract)
        if args.sample and args.sample < len(rows):
            rows = random.Random(5).sample(rows, args.sample)
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    report: dict[str, Any] = {"sets": {}}
    everything: list[dict[str, Any]] = []
    for ds in SETS:
        path = args.labels / f"support-{ds}.jsonl"
        if not path.exists():
            continue
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows = [r for r in rows if r["label"] in ("supported", "unsupported")]
        everything += rows
        report["sets"][ds] = score(rows)
    report["all"] = score(everything)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "support-quality.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
