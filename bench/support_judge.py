"""A language model as the support judge, measured on the hand-labelled sentences (``bench/labels``).

Each labelled sentence of the default model's answers is put to a judge model with the passage the checker cites
for it: "Is the sentence supported by the passage? Answer Yes or No." The judge's score is P(Yes) against P(No)
for its first token (one forward pass; passages shared by an answer's sentences are evaluated once). Reported per
language: the AUC of the score against the labels (all sentences, and within the sentences the rules pass or
flag), and caught / flagged for the judge alone and for the rules or the judge, at a few thresholds. A sentence
the rules find no source for is left to the rules.

    python -m bench.support_judge --model build/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf [--sample 600]

Measured with Qwen2.5-Coder-1.5B-Instruct (``python -m bench.bigger_model``) on 600 sentences: AUC 0.76 English,
0.69 Japanese, but 0.71 and 0.63 among the sentences the rules pass, and no threshold better than the rules. A
capable judge (7B and up, or a GPU) is the experiment this leaves open; about 3-4 s a sentence with the 1.5B model
on two cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import time
from pathlib import Path
from typing import Any

from bench.support_quality import SETS, distinct, judged_sentence, labelled_rows, sources_of
from ragd.index.answer import support

REPO = Path(__file__).resolve().parents[1]
SYSTEM = ("You check answers against source passages. A sentence is supported only if everything it states is "
          "said or directly implied by the passage.")
THRESHOLDS = (0.1, 0.3, 0.5, 0.7)


def labelled(labels: Path) -> list[dict[str, Any]]:
    """The default model's labelled sentences of both sets, one per distinct sentence, with their language (in
    the labels' file order, which the random draw depends on)."""
    return distinct([{**r, "lang": "ja" if ds == "jsquad_ja" else "en"}
                     for ds in sorted(SETS) for r in labelled_rows(labels, ds)])


class Judge:
    """P(Yes) of a GGUF chat model asked whether a passage supports a sentence (llama-cpp-python, greedy)."""

    def __init__(self, model: Path, threads: int) -> None:
        import numpy as np
        from llama_cpp import Llama, llama_get_logits_ith

        self.np, self.logits_of = np, llama_get_logits_ith
        self.llm = Llama(str(model), n_ctx=4096, n_threads=threads or None, verbose=False)
        if "tokenizer.chat_template" not in self.llm.metadata:
            raise SystemExit(f"{model.name} has no chat template: a judge needs a chat model")
        self.yes = self._first_tokens(("Yes", " Yes", "yes"))
        self.no = self._first_tokens(("No", " No", "no"))

    def _first_tokens(self, words: tuple[str, ...]) -> set[int]:
        return {self.llm.tokenize(w.encode(), add_bos=False, special=False)[0] for w in words}

    def p_yes(self, passage: str, question: str, sentence: str) -> float:
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"Passage:\n{passage[:2500]}\n\nQuestion: {question}\n"
                                                f"Sentence: {sentence}\n\nIs the sentence supported by the passage? "
                                                "Answer Yes or No."}]
        prompt = self._chat(messages)
        ids = self.llm.tokenize(prompt.encode(), add_bos=False, special=True)
        same = 0  # the passage's tokens are kept from the sentence before, where it was the same
        for a, b in zip(self.llm._input_ids.tolist()[: self.llm.n_tokens], ids, strict=False):
            if a != b:
                break
            same += 1
        self.llm.n_tokens = min(same, len(ids) - 1)
        self.llm.eval(ids[self.llm.n_tokens:])
        logits = self.np.ctypeslib.as_array(self.logits_of(self.llm._ctx.ctx, -1), shape=(self.llm.n_vocab(),))
        top = float(logits.max())
        yes = sum(math.exp(float(logits[t]) - top) for t in self.yes)
        no = sum(math.exp(float(logits[t]) - top) for t in self.no)
        return yes / (yes + no) if yes + no > 0 else 0.5

    def _chat(self, messages: list[dict[str, str]]) -> str:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = self.llm.metadata["tokenizer.chat_template"]
        fmt = Jinja2ChatFormatter(template, eos_token="", bos_token="")
        return fmt(messages=messages).prompt


def auc(pos: list[float], neg: list[float]) -> float | None:
    """The chance that an unsupported sentence scores lower P(Yes) than a supported one (ties count half)."""
    if not pos or not neg:
        return None
    wins = sum((p < n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def rates(rows: list[dict[str, Any]], flagged: Any) -> dict[str, float]:
    bad = [r for r in rows if r["label"] == "unsupported"]
    good = [r for r in rows if r["label"] == "supported"]
    return {"caught": sum(map(flagged, bad)) / max(1, len(bad)), "flagged": sum(map(flagged, good)) / max(1, len(good))}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    scored = [r for r in rows if r["p_yes"] is not None]
    out: dict[str, Any] = {"sentences": len(rows), "unsupported": sum(r["label"] == "unsupported" for r in rows),
                           "rules": rates(rows, lambda r: r["verdict"] != "supported")}
    for name, group in (("auc", scored), ("auc_rules_pass", [r for r in scored if r["verdict"] == "supported"]),
                        ("auc_rules_flag", [r for r in scored if r["verdict"] != "supported"])):
        out[name] = auc([r["p_yes"] for r in group if r["label"] == "unsupported"],
                        [r["p_yes"] for r in group if r["label"] == "supported"])
    for t in THRESHOLDS:
        judge = rates(rows, lambda r, t=t: r["p_yes"] is None or r["p_yes"] < t)
        either = rates(rows, lambda r, t=t: r["verdict"] != "supported" or (r["p_yes"] or 0.0) < t)
        out[f"below {t}"] = {"judge": judge, "rules or judge": either}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", type=Path, required=True, help="a GGUF chat model")
    ap.add_argument("--labels", type=Path, default=REPO / "bench" / "labels")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--sample", type=int, default=600, help="sentences drawn at random (seed 33); 0: all")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    rows = labelled(args.labels)
    random.Random(33).shuffle(rows)
    rows = rows[: args.sample] if args.sample else rows
    rows.sort(key=lambda r: (r["answer"], r["question"]))  # an answer's sentences together: its passages reused
    judge = Judge(args.model, args.threads)
    started, judged_answers, out = time.perf_counter(), {}, []
    for r in rows:
        key = (r["answer"], r["question"])
        if key not in judged_answers:
            judged_answers[key] = support.judge_answer(r["answer"], sources_of(r), r["question"])
        found = judged_sentence(r, judged_answers[key])
        if found is None:
            continue
        match, verdict = found
        p = None
        if match.candidate is not None:
            passage = sources_of(r)[match.candidate.n - 1].hit.text
            p = judge.p_yes(passage, r["question"], match.claim)
        out.append({"lang": r["lang"], "label": r["label"], "verdict": verdict.verdict, "p_yes": p})
    report = {"model": args.model.name, "seconds": round(time.perf_counter() - started, 1),
              **{lang: summary([r for r in out if r["lang"] == lang]) for lang in ("en", "ja")}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "support-judge.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
