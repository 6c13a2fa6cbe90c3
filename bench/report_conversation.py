"""The follow-up section of ``bench/RESULTS.md``, from ``bench/out/multiturn.json`` (``python -m bench.multiturn``)."""

from __future__ import annotations

from bench.bigger_model import OUT_NAME as BIGGER
from bench.report_kit import Report, num, table

TARGET = 0.05  # issue 20: follow-ups made standalone within this of the same questions asked standalone


def multiturn_section(r: Report) -> None:
    r.add("## 11. Follow-up questions\n\nTwo questions about the same paragraph of a shared QA article asked one "
          "after the other, the second rewritten as a follow-up: the name both share (its subject) replaced by "
          "\"it\" / \"それ\", so its referent is only in the turn before. Hybrid ans@5 over the retrieval set's index "
          "(cranfield distractors included) of the original question asked alone, the follow-up searched as it is, "
          "and the follow-up made standalone by carrying the earlier question's rarest terms (the default with a "
          "small model). "
          "Reproduce: `python -m bench.multiturn`.")
    d = r.load("multiturn.json")
    if d is None:
        r.absent("Follow-up questions", "python -m bench.multiturn")
        return
    rows = []
    bigger = r.load(f"{BIGGER}/multiturn.json") or {}
    for ds, s in (d.get("results") or {}).items():
        rows.append((ds, s.get("pairs"), num(s.get("ans@5 standalone")), num(s.get("ans@5 follow-up")),
                     num(s.get("ans@5 carried")), num(s.get("ans@5 switch"))))
        gap = (s.get("ans@5 standalone") or 0) - (s.get("ans@5 carried") or 0)
        if gap > TARGET:
            r.lose(f"{ds} follow-ups made standalone by carried terms: ans@5 {num(s.get('ans@5 carried'))} against "
                   f"{num(s.get('ans@5 standalone'))} asked standalone (target: within {TARGET:g}).")
    r.add(table(("set", "follow-ups", "standalone", "as asked", "carried terms", "after another subject"), rows))
    rows = []
    for who, data in (("default (SmolLM2-135M)", d), ("Qwen2.5-Coder-1.5B", bigger)):
        for ds, s in (data.get("results") or {}).items():
            if s.get("model pairs"):
                rows.append((ds, who, s["model pairs"], num(s.get("ans@5 standalone (model pairs)")),
                             num(s.get("ans@5 carried (model pairs)")), num(s.get("ans@5 model")),
                             num(s.get("ans@5 model topped up")),
                             f"{s['model s/rewrite']:.1f} s" if "model s/rewrite" in s else None))
    if rows:
        r.add("Rewritten by a model, on the first pairs of each set: the rewrite alone, and topped up with the "
              "earlier question's rare terms it left out (what `[answer] rewrite = \"model\"` searches; "
              "`RAGD_LLM_MODEL=$(python -m bench.bigger_model) python -m bench.multiturn --out "
              f"bench/out/{BIGGER}` for the bigger model).")
        r.add(table(("set", "model", "pairs", "standalone", "carried terms", "model rewrite", "rewrite topped up",
                     "per rewrite"), rows))
    r.add("*after another subject*: the standalone question asked after a question about another article, as the "
          "conversation would search it (a check that carrying terms does not hurt a change of subject).")
