"""The follow-up section of ``bench/RESULTS.md``, from ``bench/out/multiturn.json`` (``python -m bench.multiturn``)."""

from __future__ import annotations

from bench.report_kit import Report, num, table

TARGET = 0.05  # issue 20: follow-ups made standalone within this of the same questions asked standalone


def multiturn_section(r: Report) -> None:
    r.add("## 11. Follow-up questions\n\nTwo questions about the same paragraph of a shared QA article asked one "
          "after the other, the second rewritten as a follow-up: the name both share (its subject) replaced by "
          "\"it\" / \"それ\", so its referent is only in the turn before. Hybrid ans@5 over the retrieval set's index "
          "(cranfield distractors included) of the original question asked alone, the follow-up searched as it is, "
          "and the follow-up made standalone: by carrying the earlier question's rarest terms (the default with a "
          "small model), and by the default model's rewrite (SmolLM2-135M, on the first pairs of each set). "
          "Reproduce: `python -m bench.multiturn`.")
    d = r.load("multiturn.json")
    if d is None:
        r.absent("Follow-up questions", "python -m bench.multiturn")
        return
    rows = []
    for ds, s in (d.get("results") or {}).items():
        rows.append((ds, s.get("pairs"), num(s.get("ans@5 standalone")), num(s.get("ans@5 follow-up")),
                     num(s.get("ans@5 carried")), f"{num(s.get('ans@5 model'))} "
                     f"(vs {num(s.get('ans@5 standalone (model pairs)'))}, {s.get('model pairs')} pairs)",
                     num(s.get("ans@5 switch"))))
        gap = (s.get("ans@5 standalone") or 0) - (s.get("ans@5 carried") or 0)
        if gap > TARGET:
            r.lose(f"{ds} follow-ups made standalone by carried terms: ans@5 {num(s.get('ans@5 carried'))} against "
                   f"{num(s.get('ans@5 standalone'))} asked standalone (target: within {TARGET:g}).")
    r.add(table(("set", "follow-ups", "standalone", "as asked", "carried terms", "model rewrite",
                 "after another subject"), rows))
    r.add("*after another subject*: the standalone question asked after a question about another article, as the "
          "conversation would search it (a check that carrying terms does not hurt a change of subject).")
