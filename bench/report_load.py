"""Section 8 of the report: searches while the daemon indexes (``bench.search_under_load``)."""

from __future__ import annotations

from bench.report_kit import Report, get, ms, num, ratio, sec, table


def search_under_load_section(r: Report) -> None:
    r.add("## 8. Search while indexing\n\nA real `ragd serve` over a folder of notes; 20 clients search back to back "
          "(hybrid, k = 5, keep-alive, token) while nothing is indexed, then while a burst of new files is saved "
          "and indexed. The idle phase is the baseline in the same run.")
    d = r.load("search_under_load.json")
    if d is None:
        r.absent("search while indexing", "python -m bench.search_under_load")
        return
    rows = []
    for name, key in (("one client, idle", "single_client"), ("20 clients, idle", "idle"),
                      ("20 clients, during the burst", "under_load")):
        p = d.get(key) or {}
        rows.append((name, ms(p.get("p50")), ms(p.get("p95")), ms(p.get("p99")), num(p.get("requests_per_s"), 1),
                     str(p.get("errors", "–"))))
    r.add(table(("phase", "p50", "p95", "p99", "searches / s", "errors"), rows))
    burst, alone = d.get("burst") or {}, d.get("burst_alone") or {}
    target = d.get("target") or {}
    r.add(f"p95 during the burst ÷ idle p95: **{ratio(d.get('ratio_p95_load_over_idle'))}**. "
          f"The {get(d, 'params', 'burst')} files were all searchable {sec(burst.get('all_indexed_s'))} after "
          f"they were saved (with nobody searching: {sec(alone.get('all_indexed_s'))}); "
          f"{get(d, 'params', 'notes')} notes indexed before, model {get(d, 'initial_index', 'model')}.")
    if target and not target.get("pass"):
        r.lose(f"Search p95 with 20 clients during a burst is {ms(target.get('measured_p95_s'))}, over the "
               f"{ms(target.get('limit_s'))} target: 20 clients back to back need about {20 / 0.3:.0f} searches/s, "
               "and the query embedding (MiniLM on one core) allows about 60.")
    done, solo = burst.get("all_indexed_s"), alone.get("all_indexed_s")
    if done and solo and done > 1.5 * solo:
        r.lose(f"While 20 clients search, indexing gets a small share of the model: the burst took {sec(done)} to "
               f"become searchable, against {sec(solo)} with nobody searching.")
