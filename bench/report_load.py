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


def cold_start_section(r: Report) -> None:
    r.add("## 9. Cold starts\n\nA real `ragd serve` started over an empty folder, as a new user would, and a note "
          "saved there at once: seconds until a search finds it. Then searches while the embedding worker runs "
          "(warm, the baseline in the same run) and right after it exited for being idle (cold: it starts again "
          "and loads the models). The one-time int8 export of MiniLM is not in these runs: it is timed apart.")
    d = r.load("cold-start.json")
    if d is None:
        r.absent("cold starts", "python -m bench.cold_start")
        return
    r.add(table(("measure", "median of runs"), [
        ("first save after start → searchable", sec(d.get("first_save_searchable_s_median"))),
        ("search, worker running (warm)", ms(d.get("warm_search_s_median"))),
        ("search, worker exited (cold)", ms(d.get("cold_search_s_median"))),
        ("cold ÷ warm", ratio(d.get("cold_over_warm"))),
    ]))
    export = d.get("export") or {}
    r.add(f"{len(d.get('runs') or [])} runs; load average {d.get('load_avg')} when it ended. One-time export: "
          + (f"{sec(export.get('export_s'))}." if export.get("export_s") else
             "made before these runs (about 15 s and a 0.9 GB peak in a child process, measured apart)."))
    first = d.get("first_save_searchable_s_median")
    if first is not None and first > 2.0:
        r.lose(f"The first save after `ragd serve` starts takes {sec(first)} to become searchable (target 2 s).")
    cold = d.get("cold_search_s_median")
    if cold is not None:
        r.lose(f"The first search after the embedding worker exited for being idle takes {ms(cold)} (warm: "
               f"{ms(d.get('warm_search_s_median'))}): the price of a daemon that holds no model while idle.")
