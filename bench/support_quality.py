"""How well the per-sentence support check finds what the files do not say, on hand-labelled answer sentences.

``bench/labels/support-<set>.jsonl`` holds sentences that the default model (SmolLM2-135M) wrote in answers to
``squad_en`` and ``jsquad_ja`` questions (``bench.answer_quality`` records them with the passages the model was
given), each labelled by reading it against those passages: ``supported`` when everything it says is in them,
``unsupported`` when anything is not (an invented detail, a wrong number or name, a contradiction). The labels
were made without looking at the checker's verdicts. Each sentence was read twice, independently (``label_1``,
``label_2``), and where the two readings differ a third one, given both, settled it (``label``); ``readers``
reports how often the two agreed.

Labels come in batches (``support-<set>.jsonl`` is batch 1, ``support-<set>-2.jsonl`` batch 2): the checker's
rules were chosen looking at batch 1's English errors; batch 2 was labelled afterwards and is reported apart, as
held-out data. The checker is run again here, on the same answer and passages (``support.judge_answer``).
Reported per set:
  caught        — of the unsupported sentences, the share the checker flags (verdict partly or unsupported):
                  its recall
  precision     — of the sentences it flags, the share labelled unsupported
  false flags   — of the supported sentences, the share it flags
  each of caught and false flags with its 95% Wilson interval (``*_interval``: the labelled sentences are a
  sample of what the model writes), and the same with only the verdict ``unsupported`` counted as a flag
  (strict). A sentence a looping model repeats in one answer counts once (``with_repeats`` counts every labelled row).

    python -m bench.support_quality [--labels bench/labels] [--out bench/out]
    python -m bench.support_quality --extract bench/out/answers-squad_en.json   # sentences to label, no verdicts
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
from pathlib import Path
from typing import Any

from ragd.index.answer import support
from ragd.index.answer.cite import Match
from ragd.index.answer.models import Source
from ragd.index.models import Hit

REPO = Path(__file__).resolve().parents[1]
SETS = ("squad_en", "jsquad_ja")
EXTRACTIVE_PREFIXES = ("The passage of your files", "ファイルの中で")


def sources_of(row: dict[str, Any]) -> list[Source]:
    return [Source(s["n"], Hit(chunk_id=f"s{s['n']}", path=s["path"], text=s["text"], score=0.0, page=s.get("page"),
                               line_start=s.get("line_start"), line_end=s.get("line_end"),  # not in batches 1-6
                               heading=tuple(s.get("heading", ())), title=s.get("title")))
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


def answer_shares(answers_file: Path) -> dict[str, Any]:
    """Every sentence of the model-written answers in ``answers_file`` judged again with the current checker:
    the share of each verdict, and the mean share of an answer that is supported (by length)."""
    rows = extract(answers_file)
    counts = dict.fromkeys(support.VERDICTS, 0)
    by_answer: dict[str, list[tuple[int, str]]] = {}
    for a in {r["question"]: r for r in rows}.values():
        for (match, j) in support.judge_answer(a["answer"], sources_of(a), a["question"]):
            counts[j.verdict] += 1
            by_answer.setdefault(a["question"], []).append((len(match.claim), j.verdict))
    n = max(1, sum(counts.values()))
    shares = [sum(k for k, v in s if v == "supported") / max(1, sum(k for k, _ in s)) for s in by_answer.values()]
    return {"answers": len(by_answer), "sentences": sum(counts.values()),
            **{v: counts[v] / n for v in support.VERDICTS},
            "mean_supported_share": sum(shares) / max(1, len(shares))}


def verdicts(row: dict[str, Any]) -> list[str]:
    return [j.verdict for _, j in support.judge_answer(row["answer"], sources_of(row), row["question"])]


def verdict_of(row: dict[str, Any]) -> str | None:
    """The current checker's verdict on the labelled sentence; None if no sentence overlaps it."""
    found = judged_sentence(row, support.judge_answer(row["answer"], sources_of(row), row["question"]))
    return None if found is None else found[1].verdict


def judged_sentence(row: dict[str, Any], judged: list[tuple[Match, support.Judgement]],
                    ) -> tuple[Match, support.Judgement] | None:
    """The labelled sentence among the checker's ``judged`` sentences of its answer, found by its text (the
    sentence splitter may cut the answer differently from when it was labelled)."""
    for match, j in judged:
        if match.claim == row["text"]:
            return match, j
    # a sentence the model was cut off in ("The crisis caused a decrease in") is the answer's last, though an
    # earlier one may start alike
    tail = row["answer"].rstrip().endswith(row["text"])
    for match, j in reversed(judged) if tail else judged:
        if row["text"] in match.claim or match.claim in row["text"]:
            return match, j
    return None


def labelled_rows(labels: Path, ds: str) -> list[dict[str, Any]]:
    """The rows of ``ds`` labelled supported or unsupported, each with its ``batch`` ("1" for the first file)."""
    rows = []
    for path in sorted(labels.glob(f"support-{ds}*.jsonl")):
        batch = path.stem.removeprefix(f"support-{ds}").lstrip("-") or "1"
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append({**json.loads(line), "batch": batch})
    return [r for r in rows if r["label"] in ("supported", "unsupported")]


def distinct(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per sentence text in an answer: a looping model repeats a sentence, and a repeat is one claim."""
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for r in rows:
        seen.setdefault((r["answer"], r["text"]), r)
    return list(seen.values())


def wilson(hits: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% Wilson score interval of a share ``hits / n`` (the plain normal one is wrong near 0 and 1)."""
    if n == 0:
        return (0.0, 1.0)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def score(rows: list[dict[str, Any]]) -> dict[str, Any]:
    judged = []
    for r in rows:
        got = verdict_of(r)
        if got is not None:
            judged.append((r["label"], got))
    bad = [v for label, v in judged if label == "unsupported"]
    good = [v for label, v in judged if label == "supported"]
    return {
        "sentences": len(judged), "labelled_unsupported": len(bad), "labelled_supported": len(good),
        "caught": sum(v != "supported" for v in bad) / max(1, len(bad)),  # recall of "not supported"
        "precision": sum(v != "supported" for v in bad)
        / max(1, sum(v != "supported" for _, v in judged)),  # of the flagged sentences, the unsupported share
        "false_flags": sum(v != "supported" for v in good) / max(1, len(good)),
        "caught_interval": wilson(sum(v != "supported" for v in bad), len(bad)),
        "false_flags_interval": wilson(sum(v != "supported" for v in good), len(good)),
        "caught_strict": sum(v == "unsupported" for v in bad) / max(1, len(bad)),
        "false_flags_strict": sum(v == "unsupported" for v in good) / max(1, len(good)),
        "verdicts": {v: sum(got == v for _, got in judged) for v in support.VERDICTS},
    }


def agreement(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """How often the two independent readings of a sentence (``label_1``, ``label_2``) agree, and Cohen's kappa
    (agreement beyond what two readers labelling at random with the same shares would reach)."""
    pairs = [(r["label_1"], r["label_2"]) for r in rows if r.get("label_1") and r.get("label_2")]
    if not pairs:
        return {"sentences": 0, "agreed": None, "kappa": None, "settled_by_a_third_reading": 0}
    n = len(pairs)
    agreed = sum(a == b for a, b in pairs) / n
    p1, p2 = (sum(p[i] == "unsupported" for p in pairs) / n for i in (0, 1))
    chance = p1 * p2 + (1 - p1) * (1 - p2)
    return {"sentences": len(pairs), "agreed": agreed,
            "kappa": (agreed - chance) / (1 - chance) if chance < 1 else 1.0,
            "settled_by_a_third_reading": sum(a != b for a, b in pairs)}


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
        rows = labelled_rows(args.labels, ds)
        if not rows:
            continue
        everything += rows
        report["sets"][ds] = score(distinct(rows))
        report["sets"][ds]["with_repeats"] = score(rows)
        for batch in sorted({r["batch"] for r in rows}):
            report["sets"][ds][f"batch {batch}"] = score(distinct([r for r in rows if r["batch"] == batch]))
        answers = args.out / f"answers-{ds}.json"
        if answers.exists():
            report.setdefault("answers", {})[ds] = answer_shares(answers)
    report["all"] = score(distinct(everything))
    report["all"]["readers"] = agreement(distinct(everything))
    report["all"]["with_repeats"] = score(everything)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "support-quality.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
