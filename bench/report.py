"""Write ``bench/RESULTS.md`` and its PNG plots from the JSON the benchmarks left in ``bench/out``.

Each section reads one benchmark's output; a benchmark that did not run is named with the command that
runs it, never filled in. Ratios are the benchmarks' own (measured in the same run); this module only
formats them, draws the plots and lists, from the numbers, where ragd loses.

    python -m bench.report [--out bench/out] [--results bench/RESULTS.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.report_conversation import multiturn_section
from bench.report_kit import (
    OTHER,
    PLOTS,
    RAGD,
    THIRD,
    Json,
    Previous,
    Report,
    bars,
    get,
    grouped,
    mb,
    ms,
    num,
    ratio,
    sec,
    table,
)
from bench.report_load import cold_start_section, search_under_load_section
from bench.report_ocr import ocr_section
from bench.report_quality import answers_section, retrieval_section

REPO = Path(__file__).resolve().parents[1]


# -- the machine ----------------------------------------------------------------------------------


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ram_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine_section(r: Report) -> None:
    packages = ("torch", "sentence-transformers", "chromadb", "llama-cpp-python", "fastapi", "watchdog")
    rows = [("CPU", _cpu()), ("cores", os.cpu_count()), ("RAM", f"{_ram_gb()} GiB"),
            ("OS", platform.platform()), ("Python", sys.version.split()[0]), ("GPU", "none (everything on the CPU)")]
    rows += [(p, _version(p)) for p in packages]
    r.add("## The machine\n\n" + table(("", ""), rows))
    r.add("Each benchmark's JSON in `bench/out/` records its own parameters; numbers taken while other work "
          "ran on this 2-core machine are noted where the benchmark records the load average.")


# -- 1. indexing throughput ---------------------------------------------------------------------------


def throughput_section(r: Report) -> None:
    r.add("## 1. Indexing throughput\n\nThe same corpus (`squad_en` + `cranfield_en` + `docs_corpus`), the same "
          "embedding model (all-MiniLM-L6-v2) for all three: ragd end to end (parse, chunk, embed, both stores), "
          "the raw `SentenceTransformer.encode` of exactly the chunks ragd made (the limit of the embed stage), "
          "and LlamaIndex's standard local pipeline (`SimpleDirectoryReader`, `SentenceSplitter`, "
          "`HuggingFaceEmbedding`, `ChromaVectorStore`) in its own virtualenv.")
    data = r.load("throughput.json")
    if data is None:
        r.absent("indexing throughput", "python -m bench.index_throughput")
        return
    limit = get(data, "corpus", "limit_files_per_folder")
    if limit:
        r.add(f"**A subset:** at most {limit} files per folder, evenly spaced in sorted order (`--limit-files "
              f"{limit}`); `python -m bench.index_throughput` without it takes the whole corpus.")
        r.missing.append("indexing throughput on the whole corpus: `python -m bench.index_throughput --runs 3` "
                         "(about 50 min a run here)")
    done, asked = get(data, "runs", default=None), get(data, "runs_asked", default=None)
    if done is not None and asked is not None and done < asked:
        r.add(f"**{done} of the {asked} runs asked for** finished; the series was stopped early and the medians "
              f"are over those {done}.")
    contenders = get(data, "median", default={})
    rows = []
    for name, m in contenders.items():
        rows.append((name, sec(m.get("seconds")), m.get("files"), m.get("chunks"),
                     num(m.get("files_per_s"), 1), num(m.get("chunks_per_s"), 1)))
    r.add(table(("", "seconds (median)", "files", "chunks", "files/s", "chunks/s"), rows))
    ratios = get(data, "ratios", default=None) or get(data, "ratios_median", default={})
    rr = [(k.replace("_", " "), ratio(v)) for k, v in ratios.items()]
    if rr:
        r.add(f"Ratios, each measured within one run, median over {get(data, 'runs', default='?')} runs:\n\n"
              + table(("ratio", "median"), rr))
    names = [n for n in contenders if contenders[n].get("chunks_per_s")]
    if names:
        values = [float(contenders[n]["chunks_per_s"]) for n in names]
        colours = [RAGD if n.startswith("ragd") else OTHER for n in names]
        r.add(r.plot("throughput", lambda ax: (bars(ax, names, values, colours, "chunks / s"),
                                               ax.set_title("Indexing throughput (higher is better)"))))
    embed_share = ratios.get("ragd_over_raw_embed")
    if embed_share is not None and embed_share > 1.05:
        r.add(f"ragd comes out {embed_share:.2f}× as fast as the raw encode of its own sentences, so the raw encode is "
              "no ceiling here: it is the fp32 model through torch (sentence-transformers' own path), and ragd's "
              "default engine for MiniLM is its int8 export through ONNX Runtime, one text per call, texts side by "
              "side on every core. Read the met target as \"no slower than the plain model call\", not as a share "
              "of a ceiling.")
    if embed_share is not None and embed_share < 0.9:
        r.lose(f"Indexing reaches {embed_share:.0%} of the raw embedding speed, short of the 90 % target "
               "(parsing and both stores' writes are not hidden behind the embedding).")
    li = ratios.get("ragd_speed_over_llamaindex", ratios.get("ragd_over_llamaindex_files_per_s"))
    if li is not None and li < 1:
        r.lose(f"LlamaIndex indexes the corpus faster: ragd runs at {li:.2f}× its speed (ragd embeds every "
               "sentence, many more vectors than LlamaIndex's one per node).")
    _throughput_failures(r, get(data, "per_run", default=[]))
    notes = get(data, "notes")
    if notes:
        r.add("\n".join(f"- {n}" for n in notes))


def _throughput_failures(r: Report, runs: list[Json]) -> None:
    """What each contender could not read in the first run, and the files that exhausted LlamaIndex's memory."""
    if not runs:
        return
    first = runs[0].get("contenders", {})
    said = []
    for name in ("ragd", "llamaindex"):
        c = first.get(name)
        if c and c.get("files_failed") is not None:
            skipped = f", {c['files_skipped']} skipped as unsupported" if c.get("files_skipped") else ""
            said.append(f"{name} {c['files_failed']} failed{skipped}")
    if said:
        r.add("Files each contender could not index (each recorded with its reason): " + "; ".join(said) + ".")
    peaks = [(name, get(first, name, "peak_rss_mb", "self")) for name in ("ragd", "raw_embed", "llamaindex")]
    shown = [f"{name} {mb:,.0f} MB" for name, mb in peaks if isinstance(mb, (int, float))]
    if shown:
        r.add("Peak resident memory of each contender's process (run 1): " + ", ".join(shown) + ".")
    li = first.get("llamaindex") or {}
    cap = get(li, "pipeline", "memory_limit_gb")
    exhausted = [Path(f["path"]).name for f in li.get("failures", []) if f.get("error", "").startswith("MemoryError")]
    if exhausted and cap:
        r.add(f"**LlamaIndex's reader ran out of memory** on {', '.join(exhausted)}. Its heap was capped at "
               f"{cap:g} GB for this benchmark; uncapped, the kernel's OOM killer ended its whole run at 24 GB. "
               "ragd parses each file in a worker with its own limits and records such a file as failed.")


# -- 2. how cost grows -----------------------------------------------------------------------------


def scale_section(r: Report) -> None:
    r.add("## 2. How cost grows with the tree\n\nGenerated trees of short notes cut from the real texts "
          "(SQuAD paragraphs and Cranfield abstracts) in nested folders, served by a real `ragd serve`.")
    data = r.load("scale.json")
    latency = r.load("daemon-latency.json")
    sizes: list[Json] = list(get(data, "sizes", default=[]) or [])
    if not sizes and latency is None:
        r.absent("scaling", "python -m bench.scale")
        return
    measured = {s.get("files") for s in sizes}
    unmeasured = [n for n in (1_000, 10_000, 50_000) if n not in measured]
    if unmeasured:
        todo = ",".join(str(n) for n in unmeasured)
        r.missing.append(f"scaling at {', '.join(f'{n:,}' for n in unmeasured)} files: "
                         f"`python -m bench.scale --sizes {todo}` (about 8 files/s here: 50,000 files take ~2 h)")
    if sizes:
        rows = []
        for s in sizes:
            rows.append((f"{s.get('files'):,}", f"{s.get('chunks') or 0:,}", sec(s.get("index_s")),
                         num(s.get("files_per_s"), 1),
                         mb(s.get("peak_rss_mb")), sec(s.get("rescan_s")), ms(get(s, "save_to_searchable_s", "p50")),
                         ms(get(s, "save_to_searchable_s", "p95")), ms(get(s, "delete_to_gone_s", "p50")),
                         ms(get(s, "delete_to_gone_s", "p95"))))
        r.add(table(("files", "chunks", "index time", "files/s", "peak RSS", "re-scan (unchanged)",
                     "save→searchable p50", "p95", "delete→gone p50", "p95"), rows))
        xs = [float(s["files"]) for s in sizes]

        def grow(ax: Any) -> None:
            ax.plot(xs, [float(s.get("index_s") or 0) for s in sizes], "o-", color=RAGD, label="initial index (s)")
            ax.plot(xs, [float(s.get("rescan_s") or 0) for s in sizes], "s-", color=THIRD, label="re-scan (s)")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("files")
            ax.set_ylabel("seconds")
            ax.legend(fontsize=8)
            ax.set_title("Index and re-scan time")

        def memory(ax: Any) -> None:
            ax.plot(xs, [float(s.get("peak_rss_mb") or 0) for s in sizes], "o-", color=RAGD)
            ax.set_xscale("log")
            ax.set_xlabel("files")
            ax.set_ylabel("peak RSS (MB)")
            ax.set_title("Peak daemon memory while indexing")

        r.add(r.plot("scale-time", grow) + " " + r.plot("scale-memory", memory))
        scale_losses(r, sizes)
        notes = get(data, "notes")
        if notes:
            r.add("\n".join(f"- {n}" for n in notes))
    if latency is not None:
        latency_subsection(r, latency)


def scale_losses(r: Report, sizes: Sequence[Json]) -> None:
    """Costs that grow faster than the tree, and changes that waited for a scan."""
    small, big = sizes[0], sizes[-1]
    files = big["files"] / small["files"]
    for key, what in (("rescan_s", "A re-scan of the unchanged tree"), ("index_s", "The initial index")):
        a, b = small.get(key), big.get(key)
        if a and b and files > 1 and b / a > 1.5 * files:
            r.lose(f"{what} grows {b / a:.0f}× from {small['files']:,} to {big['files']:,} files ({files:.0f}× "
                   f"the files): {sec(a)} → {sec(b)}.")
    for s in sizes:
        p95 = get(s, "delete_to_gone_s", "p95")
        if p95 is not None and p95 > 2:
            p50 = ms(get(s, "delete_to_gone_s", "p50"))
            r.lose(f"At {s['files']:,} files, delete→gone p95 is {sec(p95)} (p50 {p50}): a change that lands "
                   "during a reconcile scan waits for the whole scan.")


def latency_subsection(r: Report, d: Json) -> None:
    p, s, dl, b = d["params"], d["save_to_searchable_s"], d["delete_to_gone_s"], d["baseline"]
    r.add(f"### Save → searchable on {p['files']:,} files\n\n`python -m bench.daemon_latency`: {p['files']:,} files "
          f"in {p['folders']} folders, debounce {p['debounce_s']} s; each save is followed by lexical searches "
          "every 15 ms until the file is a hit (atomic saves, plain writes and appended edits).")
    rows = []
    for label, st in (("save → searchable, all", s["all"]), ("new file, atomic save", s["atomic_save"]),
                      ("new file, plain write", s["plain_write"]), ("edit (append)", s["edit_append"]),
                      ("delete → gone", dl["all"]), ("the writer's own time per change", b["writer_s_per_change"]),
                      ("search round trip (poll resolution)", d["search_rtt_s"])):
        rows.append((label, st.get("n"), ms(st.get("p50")), ms(st.get("p95")), ms(st.get("max"))))
    r.add(table(("", "n", "p50", "p95", "max"), rows))
    rc, ii = d["reconcile"], d["initial_index"]
    target = d["target"]
    r.add(f"Target p95 < {target['limit_s']:g} s: **{ms(target['measured_p95_s'])}, "
          f"{'met' if target['pass'] else 'missed'}**. Baseline in the same run: the debounce "
          f"({p['debounce_s']} s) is the designed floor; p50 / debounce = {b['latency_p50_over_debounce']}. "
          f"Reconcile scan of the unchanged tree: {sec(rc['wall_s_median'])} (median of {len(rc['runs'])}). "
          f"Initial index: {ii['files_per_s']} files/s ({ii['chunks']:,} chunks).")
    values = sorted(x["latency_s"] for x in d["samples"] if x["latency_s"] is not None)
    deletes = sorted(x["latency_s"] for x in d["deletes"] if x["latency_s"] is not None)

    def cdf(ax: Any) -> None:
        ax.step([v * 1000 for v in values], [(i + 1) / len(values) for i in range(len(values))], where="post",
                color=RAGD, label="save → searchable")
        if deletes:
            ax.step([v * 1000 for v in deletes], [(i + 1) / len(deletes) for i in range(len(deletes))],
                    where="post", color=THIRD, label="delete → gone")
        ax.axvline(p["debounce_s"] * 1000, color=OTHER, ls="--", label="debounce")
        ax.axvline(target["limit_s"] * 1000, color="#ce2c2c", ls=":", label="target p95")
        ax.set_xlabel("ms")
        ax.set_ylabel("share of samples")
        ax.legend(fontsize=8)
        ax.set_title(f"Latency on {p['files']:,} files (CDF)")

    if values:
        r.add(r.plot("latency-cdf", cdf))
    if not target["pass"]:
        r.lose(f"Save → searchable p95 is {ms(target['measured_p95_s'])} on {p['files']:,} files, over the "
               f"{target['limit_s']:g} s target.")
    if s.get("with_full_scan_during"):
        r.lose(f"{s['with_full_scan_during']} saves landed during a reconcile scan and waited for it.")


# -- 3. query latency -------------------------------------------------------------------------------


def query_section(r: Report) -> None:
    r.add("## 3. Query latency\n\n`ragd search` through the real retriever (chromadb + the lexical index), "
          "with real questions; the query embedding alone is the baseline measured in the same run.")
    data = r.load("query-latency.json")
    if data is None:
        r.absent("query latency", "python -m bench.query_latency")
        return
    rows = []
    sizes: list[Json] = list(get(data, "sizes", default=[]) or [])
    modes: list[str] = []
    for s in sizes:
        for mode, st in (s.get("modes") or {}).items():
            if mode not in modes:
                modes.append(mode)
            rows.append((f"{s.get('chunks'):,}", mode, ms(st.get("p50")), ms(st.get("p95")),
                         ratio(st.get("p50_over_embed"))))
        embed_p50 = get(s, "embed_only", "p50")
        for mode, st in (get(s, "http", "modes", default={}) or {}).items():  # `--http`: client-measured, API
            over = st.get("p50") / embed_p50 if st.get("p50") and embed_p50 else None
            rows.append((f"{s.get('chunks'):,}", f"{mode}, HTTP", ms(st.get("p50")), ms(st.get("p95")), ratio(over)))
    r.add(table(("chunks", "mode", "p50", "p95", "p50 / query embedding"), rows))
    if sizes and modes:
        groups = [f"{s.get('chunks'):,} chunks" for s in sizes]
        series = {m: [float(get(s, "modes", m, "p50", default=0) or 0) * 1000 for s in sizes] for m in modes}
        r.add(r.plot("query-latency", lambda ax: (grouped(ax, groups, series, "p50 (ms)"),
                                                  ax.set_title("Search latency, p50"))))
    if len(sizes) >= 2:
        small, big = sizes[0], sizes[-1]
        grow = big["chunks"] / small["chunks"]
        for mode in modes:
            a, b = get(small, "modes", mode, "p50"), get(big, "modes", mode, "p50")
            if a and b and b / a > grow ** 0.5:
                r.lose(f"{mode.capitalize()} search grows {b / a:.1f}× from {small['chunks']:,} to {big['chunks']:,} "
                       f"chunks (p50 {ms(a)} → {ms(b)}).")
    notes = get(data, "notes")
    if notes:
        r.add("\n".join(f"- {n}" for n in notes))
    million_section(r)


MILLION_BAR_MS = 150  # issue 16: hybrid p95 at 1M chunks, in process


def million_section(r: Report) -> None:
    """The 1M-chunk point, measured in a run of its own (it takes an hour to build on 2 cores)."""
    data = r.load("query-latency-1m.json")
    if data is None:
        return
    p = get(data, "params", default={}) or {}
    reuse = f" --reuse-above {p['reuse_above']}" if p.get("reuse_above") else ""
    cpu = get(data, "machine", "cpu", default="?")
    r.add("### At a million chunks\n\n`python -m bench.query_latency --chunks 100000,1000000 --jitter "
          f"{p.get('jitter', 0):g}{reuse} --out-file query-latency-1m.json` (in process; the same questions and code "
          f"path as above, the 100k size measured again in the same run for comparison; on {cpu}, "
          f"{get(data, 'machine', 'cores', default='?')} cores).")
    rows = []
    for s in get(data, "sizes", default=[]) or []:
        first = True
        for mode, st in (s.get("modes") or {}).items():
            extra = (f"{s.get('vectors', 0):,} vectors, {s.get('rss_mb', 0):,} MB resident, "
                     f"{s.get('store_mb', 0):,} MB on disk, built in {get(s, 'build', 'seconds', default=0):,.0f} s"
                     if first else "")
            rows.append((f"{s.get('chunks'):,}", mode, ms(st.get("p50")), ms(st.get("p95")),
                         ratio(st.get("p50_over_embed")), extra))
            first = False
    r.add(table(("chunks", "mode", "p50", "p95", "p50 / query embedding", "index"), rows))
    big = (get(data, "sizes", default=[]) or [{}])[-1]
    p95 = get(big, "modes", "hybrid", "p95")
    if p95 is not None and p95 * 1000 > MILLION_BAR_MS:
        r.lose(f"Hybrid search at {big.get('chunks', 0):,} chunks: p95 {ms(p95)}, over the {MILLION_BAR_MS} ms bar.")
    notes = get(data, "notes")
    if notes:
        r.add("\n".join(f"- {n}" for n in notes))


# -- 4. the answer path -------------------------------------------------------------------------------


def answer_path_section(r: Report) -> None:
    r.add("## 4. The answer path\n\n`ragd ask` (retrieval, evidence check, prompt, streaming, citations) against "
          "raw llama-cpp-python given exactly the messages ragd built, on the same loaded model; the model's "
          "state is reset before each call, and the order alternates.")
    d = r.load("ask-overhead.json")
    if d is None:
        r.absent("answer path", "python -m bench.ask_overhead")
        return
    r.add(table(("", "ragd ask", "raw llama-cpp-python", "ragd / raw"), [
        ("time to first token (median)", ms(d["ragd_first_token_s"]), ms(d["raw_first_token_s"]),
         ratio(d["first_token_ratio"])),
        ("tokens / s (median)", num(d["ragd_tokens_per_s"], 1), num(d["raw_tokens_per_s"], 1),
         ratio(d["tokens_per_s_ratio"])),
    ]))
    r.add(f"Model {d['model']}, {d['threads']} threads, context {d['n_ctx']}; {d['pairs']} pairs "
          f"({d['questions']} questions × {d['repeats']} repeats); identical answers: {d['identical_answers']} "
          f"of {d['pairs']}. Median of the per-pair first-token ratios: "
          f"{ratio(d['first_token_ratio_median_of_pairs'])}.")
    r.add(r.plot("answer-path", lambda ax: (
        grouped(ax, ["first token (ms)"], {"ragd ask": [d["ragd_first_token_s"] * 1000],
                                           "raw llama-cpp-python": [d["raw_first_token_s"] * 1000]}, "ms",
                [RAGD, OTHER]),
        ax.set_title("Time to first token (lower is better)")), size=(4.8, 3.4)))
    if d["first_token_ratio"] > 1.5:
        r.lose(f"The first token comes {d['first_token_ratio']:.2f}× later than raw llama-cpp-python's: "
               "retrieval and the evidence check are in front of the model.")
    if d["tokens_per_s_ratio"] < 0.9:
        r.lose(f"Generation runs at {d['tokens_per_s_ratio']:.2f}× raw llama-cpp-python's tokens/s.")


# -- 5. memory -----------------------------------------------------------------------------------------


def memory_section(r: Report) -> None:
    r.add("## 5. Memory\n\nResident memory of a real `ragd serve` (with its child processes), sampled with psutil.")
    d = r.load("memory.json")
    if d is None:
        r.absent("memory", "python -m bench.memory")
        return
    phases: dict[str, Any] = get(d, "phases", default={}) or {}
    rows = [(name.replace("_", " "), mb(v.get("rss_mb") if isinstance(v, dict) else v)) for name, v in phases.items()]
    r.add(table(("phase", "RSS"), rows))
    names = [n for n, _ in rows]
    values = [float(v.get("rss_mb") if isinstance(v, dict) else v or 0) for v in phases.values()]
    if names:
        r.add(r.plot("memory", lambda ax: (bars(ax, [n.replace(" ", "\n", 1) for n in names], values,
                                                [RAGD] * len(values), "MB"),
                                           ax.set_title("Daemon RSS")), size=(7.0, 3.6)))
    notes = get(d, "notes")
    if notes:
        r.add("\n".join(f"- {n}" for n in notes))
    idle = get(phases, "idle_after_llm_unload", "rss_mb")
    start = get(phases, "idle_after_start", "rss_mb")
    if idle is not None and start is not None and idle > 2 * start:
        r.lose(f"Idle memory stays at {idle:,.0f} MB after the LLM is unloaded (against {start:,.0f} MB right after "
               "start).")


# -- the whole report ----------------------------------------------------------------------------------------

SECTIONS = (machine_section, throughput_section, scale_section, query_section, answer_path_section, memory_section,
            retrieval_section, answers_section, search_under_load_section, cold_start_section, ocr_section,
            multiturn_section)


def build(out: Path, results: Path, commentary: Path | None) -> str:
    r = Report(out, results, Previous.read(results))
    for section in SECTIONS:
        r.run(section)
    head = ("# ragd benchmarks and quality report\n\n"
            f"Written by `python -m bench.report` on {dt.date.today().isoformat()} from the JSON in `bench/out/` "
            "(`make bench` runs every benchmark, then this). Medians of several runs where a benchmark repeats; "
            "every comparison is a ratio measured within the same run.\n")
    losses = "## Where ragd loses\n\n" + ("\n".join(f"- {x}" for x in r.losses) or "- Nothing in these numbers.")
    text = head + "\n" + "\n".join(r.parts) + "\n" + losses + "\n"
    if commentary is not None and commentary.exists():
        text += "\n" + commentary.read_text(encoding="utf-8").strip() + "\n"
    if r.carried:
        text += ("\n## Carried forward\n\nThese sections are an earlier report's, each marked with the CPU it was "
                 "measured on (the ratios within a section hold across machines better than its seconds); their JSON "
                 "was not in `bench/out/` for this one:\n\n" + "\n".join(f"- {c}" for c in r.carried) + "\n")
    if r.missing:
        text += "\n## Not in this report\n\n" + "\n".join(f"- {m}" for m in r.missing) + "\n"
    return text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    ap.add_argument("--commentary", type=Path, default=REPO / "bench" / "commentary.md",
                    help="hand-written findings appended to the report (what to change next)")
    args = ap.parse_args()
    text = build(args.out, args.results, args.commentary)
    args.results.write_text(text, encoding="utf-8")
    print(f"written {args.results} ({len(text.splitlines())} lines, plots in {args.results.parent / PLOTS})")


if __name__ == "__main__":
    main()
