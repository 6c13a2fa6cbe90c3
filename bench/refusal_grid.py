"""How the evidence thresholds were chosen: a grid over them, fitted on one half of the articles, checked on the
other. Reads the evidence that ``python -m bench.refusal --dump --out DIR`` wrote (``DIR/refusal-rows.json``).

For each set and each half as the fitting half: among the settings that let through at least as many answerable
questions as the previous defaults (less one point), the one refusing the most near misses; then both rates of
that setting on the other half.

    python -m bench.refusal_grid build/refusal/refusal-rows.json
"""

from __future__ import annotations

import itertools
import json
import sys
from typing import Any

from ragd.index.answer.details import names
from ragd.index.answer.terms import stem

# (min_coverage, weak_coverage, min_dense, dense_floor, refuse_unknown_names)
Setting = tuple[float, float, float, float, bool]
BEFORE: Setting = (0.5, 0.3, 0.45, 0.0, False)
GRID: list[Setting] = list(itertools.product([0.4, 0.5, 0.55, 0.6, 0.7], [0.2, 0.3, 0.4], [0.4, 0.45, 0.5, 0.55],
                                             [0.0, 0.2, 0.25, 0.3, 0.35, 0.4], [False, True]))


def unknown_name(row: dict[str, Any]) -> bool:
    terms = {stem(t["term"]): t for t in row["terms"]} | {t["term"]: t for t in row["terms"]}
    return any(n in terms and terms[n]["df"] == 0 for n in names(row["question"]))


def passes(row: dict[str, Any], p: Setting) -> bool:
    min_cov, weak, dense, floor, refuse_names = p
    d = row["dense"] or 0.0
    ok = (row["coverage"] >= min_cov or (row["coverage"] >= weak and d >= dense)) and d >= floor
    return ok and not (refuse_names and row["unknown"])


def rates(rows: list[dict[str, Any]], p: Setting) -> tuple[float, float]:
    seen = [r for r in rows if r["indexed"]]
    unseen = [r for r in rows if not r["indexed"]]
    return (sum(passes(r, p) for r in seen) / len(seen), sum(not passes(r, p) for r in unseen) / len(unseen))


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as f:
        data = json.load(f)
    for ds, halves in data["sets"].items():
        for half in halves.values():
            for r in half["rows"]:
                r["unknown"] = unknown_name(r)
        for fit, test in (("half 0", "half 1"), ("half 1", "half 0")):
            base = rates(halves[fit]["rows"], BEFORE)[0]
            fitted = [(rates(halves[fit]["rows"], p), p) for p in GRID]
            (through, refused), best = max((f for f in fitted if f[0][0] >= base - 0.01), key=lambda f: f[0][::-1])
            t_through, t_refused = rates(halves[test]["rows"], best)
            b_through, b_refused = rates(halves[test]["rows"], BEFORE)
            print(f"{ds}: fitted on {fit} {best}: let through {through:.3f}, refused {refused:.3f}; on {test}: "
                  f"let through {t_through:.3f}, refused {t_refused:.3f} (before: {b_through:.3f}, {b_refused:.3f})")


if __name__ == "__main__":
    main()
