"""What stopping a looping model saves: each question asked twice in one run, with and without the loop stop.

The default model at temperature 0 often falls into a loop and writes until its token budget is spent
(``index/answer/looping.py``). Each sampled question is asked with the stop and without it (the order alternating),
on one index and one loaded model; reported: the median and total generation time of both, the answers the stop
cut, how many characters they lost, and whether the answers still hold a gold answer string.

    RAGD_MODEL_CACHE=build/model-cache HF_HUB_OFFLINE=1 python -m bench.loop_stop --dataset jsquad_ja --sample 30
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import tempfile
from pathlib import Path
from typing import Any

from bench.answer_quality import REPO, build, questions
from ragd.index.answer import looping


def ask(c: Any, question: str, stop: bool) -> dict[str, Any]:
    real = looping.repeating_from
    if not stop:
        looping.repeating_from = lambda text: None  # the baseline: the model writes to its budget
    try:
        answer = c.asker.ask(question)
    finally:
        looping.repeating_from = real
    return {"generate_s": answer.timings.get("generate", 0.0), "chars": len(answer.answer), "text": answer.answer,
            "sentences": len(answer.sentences)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--dataset", default="squad_en", choices=["squad_en", "jsquad_ja"])
    ap.add_argument("--sample", type=int, default=30)
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = ap.parse_args()
    rows = random.Random(args.seed).sample(questions(args.data, args.dataset), args.sample)
    tmp = Path(tempfile.mkdtemp(prefix="ragd-loops-"))
    pairs = []
    try:
        c = build(tmp, sorted((args.data / args.dataset / "docs").iterdir()))
        c.asker.ask(rows[0]["question"])  # load the model before anything is timed
        for i, r in enumerate(rows):
            order = (True, False) if i % 2 == 0 else (False, True)
            got = {stop: ask(c, r["question"], stop) for stop in order}
            gold = [a.lower() for a in r["answers"]]
            pairs.append({"question": r["question"], **{
                name: {**got[stop], "gold": any(a in got[stop]["text"].lower() for a in gold)}
                for name, stop in (("stopped", True), ("whole", False))}})
        c.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    cut = [p for p in pairs if p["stopped"]["chars"] < p["whole"]["chars"]]
    report = {
        "dataset": args.dataset, "questions": len(pairs), "answers_cut": len(cut),
        "generate_s": {name: {"median": statistics.median(p[name]["generate_s"] for p in pairs),
                              "total": sum(p[name]["generate_s"] for p in pairs)} for name in ("stopped", "whole")},
        "chars_removed_share": 1 - sum(p["stopped"]["chars"] for p in pairs) / max(1, sum(p["whole"]["chars"]
                                                                                         for p in pairs)),
        "gold_answer": {name: sum(p[name]["gold"] for p in pairs) / len(pairs) for name in ("stopped", "whole")},
        "sentences": {name: sum(p[name]["sentences"] for p in pairs) for name in ("stopped", "whole")},
    }
    report["generate_s"]["total_ratio"] = (report["generate_s"]["stopped"]["total"]
                                           / max(1e-9, report["generate_s"]["whole"]["total"]))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"loop-stop-{args.dataset}.json").write_text(
        json.dumps({"report": report, "pairs": pairs}, ensure_ascii=False, indent=1))
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
