"""Follow-up questions: retrieval of a turn whose referent is only in the turn before it.

The multi-turn set is made from the shared QA data: two questions about the same paragraph of an article,
asked one after the other, the second rewritten as a person would follow up: the words it shares with the
first (its subject: "the 1973 oil crisis", "梅雨") replaced by a pronoun ("it", "それ"). The original second
question is the standalone form, answerable by construction. For each follow-up, ans@5 (one of the top five
hits is from the gold file and holds a gold answer, as in ``bench.retrieval_quality``) of:

  standalone   — the original question, asked alone (the target's baseline)
  follow-up    — the follow-up searched as it is (what ragd did before conversations)
  carried      — made standalone by the lexical fallback (the earlier question's rarest terms carried)
  model        — made standalone by the model (the default SmolLM2-135M, or ``RAGD_LLM_MODEL``), on the first
                 ``--model-limit`` pairs, with ``carried`` on the same pairs to compare, and ``model topped up``:
                 the model's rewrite with the carried terms it left out added

and, as a check that a conversation does not hurt a question that changes the subject, ans@5 of the original
second question asked after a question about another article (``switch``; carried terms where it leans on it).

    python -m bench.multiturn [--data ../shared/data] [--out bench/out] [--pairs 30] [--model-limit 100]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import time
from collections import defaultdict
from itertools import pairwise
from pathlib import Path
from typing import Any

from bench.retrieval_quality import QA_SETS, _questions, build_index, holds_answer
from ragd.daemon.container import Container
from ragd.index.answer import followup
from ragd.index.answer.followup import Turn
from ragd.index.tokenize import query_terms

REPO = Path(__file__).resolve().parents[1]
PRONOUN = {"en": "it", "ja": "それ"}
_EN_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_EN_GLUE = {"of", "the", "and", "'s", "’s"}
_JA_CONTENT = re.compile(r"[\u4e00-\u9fff\u30a0-\u30ffー々A-Za-z0-9０-９Ａ-Ｚａ-ｚ・]{2,}")


def follow_up(first: str, second: str, lang: str) -> str | None:
    """``second`` with its subject, a name both questions share, replaced by a pronoun; None when they share no
    name (the pair would not make a natural follow-up)."""
    if lang == "ja":
        shared = [m for m in _JA_CONTENT.findall(second) if m in first and _ja_name(m)]
        if not shared:
            return None
        run = max(shared, key=len)
        return second.replace(run, PRONOUN["ja"], 1)
    first_terms = set(query_terms(first))
    words = list(_EN_WORD.finditer(second))
    marked = [bool(set(query_terms(w.group())) & first_terms) for w in words]
    runs: list[tuple[int, int]] = []
    i = 0
    while i < len(words):
        if not marked[i]:
            i += 1
            continue
        j = i
        while j + 1 < len(words) and (marked[j + 1] or (words[j + 1].group().lower() in _EN_GLUE
                                                       and j + 2 < len(words) and marked[j + 2])):
            j += 1
        runs.append((i, j))
        i = j + 1
    named = [(i, j) for i, j in runs if any(_en_name(words[k].group(), k) for k in range(i, j + 1))]
    if not named:
        return None
    i, j = max(named, key=lambda r: (r[1] - r[0], -r[0]))
    start = words[i].start()
    if i > 0 and words[i - 1].group().lower() == "the":
        start = words[i - 1].start()
    return second[:start] + PRONOUN["en"] + second[words[j].end():]


def _en_name(word: str, position: int) -> bool:
    """A name or a number: capitalised past the first word, all capitals, or holding a digit."""
    return any(ch.isdigit() for ch in word) or (len(word) > 1 and word.isupper()) or (
        position > 0 and word[:1].isupper())


def _ja_name(run: str) -> bool:
    """A name-like run: katakana or Latin letters, or a compound of three or more characters."""
    return len(run) >= 3 or bool(re.fullmatch(r"[\u30a0-\u30ffーA-Za-z0-9・]+", run))


def pairs(rows: list[dict[str, Any]], lang: str, per_article: int, seed: int = 7) -> list[dict[str, Any]]:
    """Up to ``per_article`` (first, follow-up) pairs per article, both questions about the same paragraph."""
    by_paragraph: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_paragraph[(r["gold_files"][0], r.get("gold_paragraph", 0))].append(r)
    by_article: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (article, _), group in sorted(by_paragraph.items()):
        for a, b in pairwise(group):
            made = follow_up(a["question"], b["question"], lang)
            if made is not None:
                by_article[article].append({**b, "first": a["question"], "follow_up": made})
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for article in sorted(by_article):
        found = by_article[article]
        rng.shuffle(found)
        out += found[:per_article]
    return out


def answered(c: Container, query: str, row: dict[str, Any]) -> bool:
    return holds_answer(c.retriever.search(query, 5, "hybrid"), row)


def measure(c: Container, rows: list[dict[str, Any]], model_limit: int) -> dict[str, Any]:
    df = c.catalog.document_frequencies
    counts = {"standalone": 0, "follow-up": 0, "carried": 0, "switch": 0}
    other = {r["gold_files"][0]: r["first"] for r in rows}
    model_hits = model_base = model_carried = topped_hits = 0
    model_s = 0.0
    examples = []
    for i, r in enumerate(rows):
        turns = (Turn(r["first"], "", r["first"]),)
        carried = followup.standalone(r["follow_up"], turns, df, None).text
        counts["standalone"] += answered(c, r["question"], r)
        counts["follow-up"] += answered(c, r["follow_up"], r)
        counts["carried"] += answered(c, carried, r)
        elsewhere = next(q for g, q in sorted(other.items(), key=lambda kv: kv[0] == r["gold_files"][0])
                         if g != r["gold_files"][0])
        counts["switch"] += answered(c, followup.standalone(r["question"], (Turn(elsewhere, "", elsewhere),), df,
                                                            None).text, r)
        if i < model_limit:
            # as followup.standalone makes it, with the model's rewrite alone kept to measure it too
            leans = followup.leans_on_earlier(r["follow_up"])
            started = time.perf_counter()
            rewritten = followup.model_standalone(r["follow_up"], turns, c.llm) if leans else r["follow_up"]
            model_s += time.perf_counter() - started
            searched = followup.made_standalone(r["follow_up"], rewritten, turns, df).text if leans else rewritten
            model_hits += answered(c, rewritten if rewritten is not None else carried, r)
            model_base += answered(c, r["question"], r)
            model_carried += answered(c, carried, r)
            topped_hits += answered(c, searched, r)  # what ragd searches: the rewrite topped up
            if len(examples) < 8:
                examples.append({"first": r["first"], "follow_up": r["follow_up"], "standalone": r["question"],
                                 "carried": carried, "model": rewritten, "searched": searched})
    n = len(rows)
    out: dict[str, Any] = {"pairs": n, **{f"ans@5 {k}": v / n for k, v in counts.items()}}
    if model_limit:
        m = min(model_limit, n)
        out.update({"model pairs": m, "ans@5 model": model_hits / m, "ans@5 standalone (model pairs)": model_base / m,
                    "ans@5 carried (model pairs)": model_carried / m, "ans@5 model topped up": topped_hits / m,
                    "model s/rewrite": model_s / m})
    out["examples"] = examples
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--embedder", default="use+minilm")
    ap.add_argument("--pairs", type=int, default=30, help="follow-ups per article")
    ap.add_argument("--model-limit", type=int, default=100, help="follow-ups per set rewritten by the model")
    ap.add_argument("--reuse", action="store_true", help="reuse the index of an earlier run")
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    home = args.out / "home-multiturn"
    if home.exists() and not args.reuse:
        shutil.rmtree(home)
    c, _ = build_index(args.data, home, args.embedder)
    report: dict[str, Any] = {"embedder": args.embedder, "pairs_per_article": args.pairs, "results": {}}
    for ds in QA_SETS:
        lang = "ja" if ds.endswith("_ja") else "en"
        rows = pairs(_questions(args.data, ds), lang, args.pairs)
        report["results"][ds] = measure(c, rows, args.model_limit)
        line = {k: round(v, 4) if isinstance(v, float) else v for k, v in report["results"][ds].items()
                if k != "examples"}
        print(ds, json.dumps(line, ensure_ascii=False))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "multiturn.json").write_text(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
