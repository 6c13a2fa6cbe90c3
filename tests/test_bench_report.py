"""bench.report: a section whose JSON is missing keeps the earlier report's text (marked), never made up."""

from __future__ import annotations

import json
from pathlib import Path

from bench.report import build
from bench.report_kit import CARRIED, NOT_MEASURED

EARLIER = """# ragd benchmarks and quality report

Written by `python -m bench.report` on 2026-01-02 from the JSON in `bench/out/`.

## The machine

|  |  |
|---|---|
| CPU | Test CPU 9000 |

## 5. Memory

Resident memory of a real `ragd serve`.

| phase | RSS |
|---|---|
| idle after start | 141 MB |

## 4. The answer path

*Not measured in this report: run `python -m bench.ask_overhead`.*

## 6. Retrieval quality (reworded)

| embedder | mode | EN hit@1 |
|---|---|---|
| use+minilm | hybrid | 0.995 |

## Where ragd loses

- Idle memory stays at 1,146 MB after the LLM is unloaded (§5)
- Something from a section that is measured again (§2)
"""


def test_a_section_without_json_is_carried_forward_with_its_date_cpu_and_losses(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(EARLIER, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / "llamaindex-quality.json").write_text('{"results": {}}', encoding="utf-8")  # not enough for section 6
    text = build(out, results, commentary=None)
    memory = text.split("## 5. Memory", 1)[1].split("\n## ", 1)[0]
    assert "| idle after start | 141 MB |" in memory
    assert f"{CARRIED} of 2026-01-02, measured on Test CPU 9000" in memory
    assert "`python -m bench.memory`" in memory
    assert "- Idle memory stays at 1,146 MB after the LLM is unloaded (§5)" in text
    assert "(§2)" not in text  # only the carried sections' losses come along
    retrieval = text.split("## 6. Retrieval quality", 1)[1].split("\n## ", 1)[0]
    assert "| use+minilm | hybrid | 0.995 |" in retrieval and CARRIED in retrieval
    answer_path = text.split("## 4. The answer path", 1)[1].split("\n## ", 1)[0]
    assert NOT_MEASURED in answer_path and CARRIED not in answer_path  # nothing measured before: nothing to carry
    assert "5. Memory: `python -m bench.memory`" in text.split("## Carried forward", 1)[1]

    results.write_text(text, encoding="utf-8")  # carried again: the original date and CPU stay
    again = build(out, results, commentary=None)
    memory_again = again.split("## 5. Memory", 1)[1].split("\n## ", 1)[0]
    assert memory_again.count(CARRIED) == 1 and "2026-01-02, measured on Test CPU 9000" in memory_again


def test_throughput_names_a_stopped_series_and_the_file_that_exhausted_llamaindex(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    contender = {"seconds": 10.0, "files": 3, "chunks": 30, "files_per_s": 0.3, "chunks_per_s": 3.0}
    run = {"contenders": {
        "ragd": {**contender, "files_failed": 1, "files_skipped": 2},
        "raw_embed": contender,
        "llamaindex": {**contender, "files_failed": 2, "pipeline": {"memory_limit_gb": 8.0}, "failures": [
            {"path": "/data/x/poc-shared-strings.xlsx", "error": "MemoryError: "},
            {"path": "/data/x/bad.pdf", "error": "PdfReadError: no xref"}]}}}
    data = {"corpus": {"limit_files_per_folder": 0}, "runs": 2, "runs_asked": 3, "per_run": [run, run],
            "median": {name: contender for name in ("ragd", "raw_embed", "llamaindex")},
            "ratios_median": {"ragd_over_raw_embed": 1.0, "ragd_over_llamaindex_files_per_s": 1.0}}
    (out / "throughput.json").write_text(json.dumps(data), encoding="utf-8")
    text = build(out, tmp_path / "RESULTS.md", commentary=None)
    section = text.split("## 1. Indexing throughput", 1)[1].split("\n## ", 1)[0]
    assert "**2 of the 3 runs asked for** finished" in section
    assert "ragd 1 failed, 2 skipped as unsupported; llamaindex 2 failed" in section
    assert "ran out of memory** on poc-shared-strings.xlsx. Its heap was capped at 8 GB" in section
    assert "bad.pdf" not in section


def test_retrieval_rows_without_json_keep_their_earlier_figures_marked(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(EARLIER.replace(
        "| use+minilm | hybrid | 0.995 |\n",
        "| use+minilm | hybrid | 0.995 |\n| e5-small | dense | 0.983 |\n\n*Carried forward from the report of "
        "2025-12-31, measured on Old CPU 1: its JSON is not in `bench/out/` now; run ... to measure it again.*\n"),
        encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    scores = {"hit@1": 0.5, "hit@5": 0.75, "mrr@5": 0.6, "ndcg@10": 0.25}
    fresh = {"results": {f"{ds}/{mode}": scores for ds in ("squad_en", "jsquad_ja", "cranfield_en")
                         for mode in ("hybrid", "dense", "lexical")}}
    (out / "retrieval-use+minilm.json").write_text(json.dumps(fresh), encoding="utf-8")
    text = build(out, results, commentary=None)
    retrieval = text.split("## 6. Retrieval quality", 1)[1].split("\n## ", 1)[0]
    assert "| use+minilm | hybrid | 0.500 | 0.750 |" in retrieval and "0.995" not in retrieval
    assert "| e5-small † | dense | 0.983 |" in retrieval
    assert "† These rows were carried forward from the report of 2025-12-31, measured on Old CPU 1" in retrieval
    assert "| minilm †" not in retrieval  # no earlier row, nothing made up
    again = tmp_path / "again"
    again.mkdir()
    (again / "retrieval-use+minilm.json").write_text(json.dumps(fresh), encoding="utf-8")
    results.write_text(text, encoding="utf-8")
    twice = build(again, results, commentary=None)
    assert "| e5-small † | dense | 0.983 |" in twice and "measured on Old CPU 1" in twice  # carried twice, same origin


def test_an_answer_set_without_json_keeps_its_earlier_row_and_losses(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(EARLIER.replace("## Where ragd loses\n", (
        "## 7. Answers\n\n| set | questions |\n|---|---|\n| squad_en | 150 |\n| jsquad_ja | 30 |\n\n"
        "## Where ragd loses\n\n- On jsquad_ja, the answers are short (§7)\n"
        "- On squad_en, the answers are long (§7)\n")),
        encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    indexed = {"questions": 20, "citations_verified": 1.0, "gold_cited": 0.9, "gold_answer": 0.6, "grounded": 0.95,
               "median_first_token_s": 4.0}
    report = {"indexed": indexed, "held_out_articles": {"not_grounded": 0.95}, "other_dataset": {"not_grounded": 1}}
    (out / "answers-squad_en.json").write_text(json.dumps({"report": report}), encoding="utf-8")
    text = build(out, results, commentary=None)
    answers = text.split("## 7. Answers", 1)[1].split("\n## ", 1)[0]
    assert "| squad_en | 20 |" in answers and "| jsquad_ja † | 30 |" in answers
    assert "carried forward from the report of 2026-01-02, measured on Test CPU 9000" in answers
    assert "- On jsquad_ja, the answers are short (§7)" in text
    assert "the answers are long" not in text  # squad_en was measured again: its old loss goes


def _latency(chunks: int, hybrid_p95: float) -> dict[str, object]:
    modes = {m: {"p50": 0.02, "p95": p95, "p50_over_embed": 3.0}
             for m, p95 in (("dense", 0.02), ("lexical", 0.05), ("hybrid", hybrid_p95))}
    return {"chunks": chunks, "vectors": 2 * chunks, "rss_mb": 9000, "store_mb": 9500, "build": {"seconds": 2000},
            "modes": modes}


def test_the_million_chunk_point_has_its_own_table_and_says_when_it_misses_the_bar(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    run = {"machine": {"cpu": "Test CPU 9000", "cores": 2}, "params": {"jitter": 0.15, "reuse_above": 100000},
           "sizes": [_latency(100_000, 0.06), _latency(1_000_000, 0.071)], "notes": ["made of copies"]}
    (out / "query-latency.json").write_text(json.dumps({"sizes": [_latency(10_000, 0.02)]}), encoding="utf-8")
    (out / "query-latency-1m.json").write_text(json.dumps(run), encoding="utf-8")
    text = build(out, tmp_path / "RESULTS.md", commentary=None)
    million = text.split("### At a million chunks", 1)[1].split("\n## ", 1)[0]
    assert "--reuse-above 100000" in million and "Test CPU 9000" in million and "- made of copies" in million
    assert "| 1,000,000 | hybrid | 20 ms | 71 ms | 3.00× |" in million
    assert "2,000,000 vectors, 9,000 MB resident, 9,500 MB on disk" in million
    assert "over the 150 ms bar" not in text
    run["sizes"][-1] = _latency(1_000_000, 0.2)  # type: ignore[index]
    (out / "query-latency-1m.json").write_text(json.dumps(run), encoding="utf-8")
    assert "Hybrid search at 1,000,000 chunks: p95 200 ms, over the 150 ms bar." in \
        build(out, tmp_path / "RESULTS.md", commentary=None)


def test_follow_ups_are_reported_and_a_gap_over_the_target_is_a_loss(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = {"pairs": 200, "ans@5 standalone": 0.99, "ans@5 follow-up": 0.80, "ans@5 carried": 0.97,
              "ans@5 switch": 0.98, "model pairs": 100, "ans@5 model": 0.95, "ans@5 standalone (model pairs)": 0.99,
              "ans@5 carried (model pairs)": 0.98, "ans@5 model topped up": 1.0, "model s/rewrite": 1.14}
    (out / "multiturn.json").write_text(json.dumps({"results": {"squad_en": result}}), encoding="utf-8")
    text = build(out, tmp_path / "RESULTS.md", commentary=None)
    section = text.split("## 11. Follow-up questions", 1)[1].split("\n## ", 1)[0]
    assert "| squad_en | 200 | 0.990 | 0.800 | 0.970 | 0.980 |" in section
    # the model's rewrites on their pairs, beside the carried terms on the same pairs
    assert "| squad_en | default (SmolLM2-135M) | 100 | 0.990 | 0.980 | 0.950 | 1.000 | 1.1 s |" in section
    assert "follow-ups made standalone" not in text.split("## Where ragd loses", 1)[1]
    result["ans@5 carried"] = 0.90
    (out / "multiturn.json").write_text(json.dumps({"results": {"squad_en": result}}), encoding="utf-8")
    losses = build(out, tmp_path / "RESULTS.md", commentary=None).split("## Where ragd loses", 1)[1]
    assert "squad_en follow-ups made standalone by carried terms: ans@5 0.900 against 0.990" in losses


def test_the_multi_turn_set_replaces_the_shared_name_with_a_pronoun() -> None:
    from bench.multiturn import follow_up

    made = follow_up("When did the Skerry Point lighthouse open?", "Who built the Skerry Point lighthouse?", "en")
    assert made is not None and "Skerry" not in made and " it" in made
    assert follow_up("When was it built?", "Who paid for the roof?", "en") is None
    ja = follow_up("小石川図書館はいつ開館したか", "小石川図書館の休館日は何曜日か", "ja")
    assert ja == "それの休館日は何曜日か"



def test_a_share_of_labelled_sentences_comes_with_its_wilson_interval() -> None:
    from bench.support_quality import wilson

    low, high = wilson(0, 10)  # none of ten: the interval still reaches above zero
    assert low == 0.0 and 0.27 < high < 0.29
    low, high = wilson(5, 10)
    assert 0.23 < low < 0.24 and 0.76 < high < 0.77
    assert wilson(0, 0) == (0.0, 1.0)


def test_the_batches_first_scores_are_pooled_by_their_sizes() -> None:
    from bench.report_quality import pooled_as_they_came

    # as-it-came.json: English batch 2 88% / 28%, Japanese batch 2 47% / 17%
    q = {"sets": {"squad_en": {"batch 2": {"labelled_unsupported": 10, "labelled_supported": 10}},
                  "jsquad_ja": {"batch 2": {"labelled_unsupported": 30, "labelled_supported": 30}}}}
    assert "57% caught / 20% flagged over 80 sentences" in pooled_as_they_came(q)
    assert pooled_as_they_came({"sets": {}}) == ""


def test_a_bigger_models_first_scores_are_not_pooled_with_the_default_models() -> None:
    from bench.report_quality import pooled_as_they_came, unmarked_wrong

    # as-it-came.json holds the bigger model's batch 1 of each set; the default model's batch 1 has no first score
    q = {"sets": {"squad_en": {"batch 1": {"labelled_unsupported": 10, "labelled_supported": 34}}}}
    assert pooled_as_they_came(q) == ""
    # 10 unsupported, 3 caught: 7 pass unmarked beside the 32 of 34 supported ones not flagged
    m = {"caught": 0.3, "labelled_unsupported": 10, "false_flags": 2 / 34, "labelled_supported": 34}
    assert abs(unmarked_wrong(m) - 7 / 39) < 1e-9


def test_a_model_judges_measurement_is_reported_beside_the_rules(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cut = {"judge": {"caught": 0.5, "flagged": 0.25}, "rules or judge": {"caught": 0.9, "flagged": 0.3}}
    en = {"sentences": 10, "unsupported": 6, "rules": {"caught": 0.8, "flagged": 0.2}, "auc": 0.75,
          "auc_rules_pass": 0.6, **{f"below {t}": cut for t in (0.1, 0.3, 0.5, 0.7)}}
    (out / "support-judge.json").write_text(json.dumps({"model": "judge.gguf", "seconds": 120, "en": en}))
    text = build(out, tmp_path / "RESULTS.md", commentary=None)
    assert "here judge.gguf, 2 min" in text
    assert "| English | 10 | 0.750 | 0.600 | 80% / 20% | 50% / 25% | 90% / 30% | 90% / 30% |" in text


def test_the_models_own_doubt_is_reported_where_the_rules_pass(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    aucs = {"mean_lp": 0.6, "min_lp": 0.69, "mean_ent": 0.64, "max_ent": 0.71, "min_margin": 0.61, "cons": 0.51,
            "cons_min": 0.53}
    en = {"sentences": 250, "unsupported": 140, "rules_pass": 137, "rules_pass_unsupported": 43,
          "auc_rules_pass": aucs, "auc_rules_flag": aucs, "best": "max_ent", "combined_auc_rules_pass": 0.67,
          "flag_lowest": {"0.1": {"caught": 9, "false_flags": 5}, "0.2": {"caught": 15, "false_flags": 12}}}
    report = {"model": "SmolLM2.gguf", "answers": 200, "samples": 4, "seconds": 1800, "en": en}
    (out / "support-selfcheck.json").write_text(json.dumps(report))
    text = build(out, tmp_path / "RESULTS.md", commentary=None)
    assert "SmolLM2.gguf, 200 answers with a sentence the rules pass, 4 samples each, 30 min" in text
    assert "| English | 137 | 43 | 0.690 | 0.710 | 0.640 | 0.510 | 0.670 | 15 for 12 false |" in text
