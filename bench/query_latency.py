"""Search latency at 10k and 100k chunks: dense, lexical and hybrid, against the query embedding alone.

The measured path is ragd's own: ``Retriever.search(query, k, mode)`` over a real chromadb collection
(``ChromaVectors``, persistent, as the daemon opens it) and the real catalog with its FTS5 lexical index
(opened read-only, as a request thread does), with the default embedder embedding each query.

Building 100k chunks with the full indexer is slow on a small machine (parsing and embedding every
sentence), so the index is written through the stores' own write API instead, with real text and real
embeddings: notes are cut from the shared data's real sentences (SQuAD paragraphs, Cranfield abstracts,
JSQuAD paragraphs; 1–3 paragraphs of 2–4 consecutive sentences, as bench/daemon_latency's notes), chunked
by ragd's chunker into ragd's chunks and per-sentence embedding units (``chunk_document``,
``embedding_units``), and stored as the indexer stores a file (``Catalog.replace_file`` with ragd's chunk
ids, ``VectorStore.upsert`` of the unit vectors). Every distinct unit text is embedded once, with the real
model, through ragd's embedding cache, and reused for every note and size. Because the notes reuse a pool of
real sentences, many notes share sentences: the vector store holds many exact duplicates (counted in the
JSON as ``distinct_vectors``), as it would for a tree of copied notes.

The index grows in place: built to the first size, measured, grown to the next, measured again. At each
size every query runs in every mode, the order of modes rotating per query, after a warm-up.
Queries: real questions from squad_en, jsquad_ja and cranfield_en (qa.jsonl), an equal share of each.
Reported per mode and size: p50 / p95 / mean ms, and p50 over the p50 of the query embedding alone (the
baseline, timed in the same loop).

With ``--http`` each size is also measured through the HTTP API: a real ``ragd serve`` over the same index
(the notes are written to disk, and the catalog records what the indexer would, so its start-up scan finds
them unchanged), ``POST /v1/search`` timed by the client on one keep-alive connection with the API token.

The notes and their writing are in ``bench/latency_corpus.py``. For a million chunks on a small machine,
``--reuse-above 100000`` makes the notes past that size copies of earlier ones (nothing new to embed) and
``--jitter 0.15`` stores their vectors as near duplicates rather than exact ones.

    python -m bench.query_latency [--chunks 10000,100000] [--queries 200] [--k 5] [--cache PATH] [--http]
                                  [--reuse-above N] [--jitter J] [--out bench/out] [--out-file NAME]
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from bench.daemon_latency import load_avg, machine, percentile, wait_initial_index
from bench.latency_corpus import Copies, Note, embed_all, japanese_passages, notes_for, store_mb, write_notes
from bench.note_tree import load_passages
from ragd.daemon.config import Config, load
from ragd.index import embed
from ragd.index.chunk import ChunkSettings
from ragd.index.embed import Embedder
from ragd.index.isolate import ParsePool
from ragd.index.pipeline import Indexer
from ragd.index.retrieve import Mode, Retriever
from ragd.index.store.catalog import Catalog
from ragd.index.store.embed_cache import EmbeddingCache, text_hash
from ragd.index.store.vectors import ChromaVectors
from tests.daemon_proc import Daemon

REPO = Path(__file__).resolve().parents[1]
MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")
GIVEN_MODES: tuple[Mode, ...] = ("dense", "hybrid")  # timed again with the query vector given
GIVEN = " (vector given)"
QA_SETS = ("squad_en", "jsquad_ja", "cranfield_en")


def quiesce(max_wait: float, window: float = 2.0, threshold: float = 0.05) -> dict[str, Any]:
    """Wait until this process has gone quiet: chromadb keeps indexing in background threads after a large
    write, which would be timed as part of the searches. Returns how long that took and the CPU it used."""
    proc = psutil.Process()

    def cpu() -> float:
        t = proc.cpu_times()
        return float(t.user + t.system)

    started = time.perf_counter()
    first = cpu()
    busy = 0.0
    while time.perf_counter() - started < max_wait:
        before = cpu()
        time.sleep(window)
        busy = (cpu() - before) / window
        if busy < threshold:
            break
    return {"waited_s": round(time.perf_counter() - started, 1), "cpu_s": round(cpu() - first, 1),
            "busy_cores_at_end": round(busy, 3)}


# -- the queries --------------------------------------------------------------------------------------
def questions(data: Path, count: int, rng: random.Random) -> list[tuple[str, str]]:
    """(data set, question): an equal share from each QA set, sampled without replacement."""
    per = [count // len(QA_SETS) + (i < count % len(QA_SETS)) for i in range(len(QA_SETS))]
    out: list[tuple[str, str]] = []
    for ds, n in zip(QA_SETS, per, strict=True):
        rows = [json.loads(line) for line in (data / ds / "qa.jsonl").read_text(encoding="utf-8").splitlines()]
        out += [(ds, r["question"]) for r in rng.sample(rows, min(n, len(rows)))]
    rng.shuffle(out)
    return out


class OtherLoad:
    """How many cores other processes kept busy over a stretch (the machine's busy CPU time minus ours)."""

    def __init__(self) -> None:
        self.me = psutil.Process()
        self.t0 = time.perf_counter()
        self.busy0, self.mine0 = self._busy(), self._mine()

    def _busy(self) -> float:
        t = psutil.cpu_times()
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))

    def _mine(self) -> float:
        t = self.me.cpu_times()
        return float(t.user + t.system)

    def cores(self) -> float:
        wall = time.perf_counter() - self.t0
        others = (self._busy() - self.busy0) - (self._mine() - self.mine0)
        return round(max(0.0, others) / wall, 2) if wall > 0 else 0.0


def stats_ms(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(percentile(values, 0.5), 5), "p95": round(percentile(values, 0.95), 5),
            "mean": round(statistics.fmean(values), 5), "max": round(max(values), 5)}


class KnownQueries(Embedder):
    """An embedder that answers with query vectors embedded beforehand: a search through it is the search
    without the query embedding (the part ragd's retrieval itself costs)."""

    def __init__(self, embedder: Embedder, queries: Sequence[str]) -> None:
        self.model_id, self.dim, self.max_tokens = embedder.model_id, embedder.dim, embedder.max_tokens
        texts = list(dict.fromkeys(q.strip() for q in queries))
        self.vectors = dict(zip(texts, embedder.embed_batch(texts, "query"), strict=True))

    def embed_batch(self, texts: Sequence[str], kind: embed.Kind = "passage") -> embed.Vectors:
        return np.stack([self.vectors[t.strip()] for t in texts])

    def count_tokens(self, text: str) -> int:
        return len(text.split())


def measure(retriever: Retriever, embedder: Embedder, queries: list[tuple[str, str]], k: int,
            warmup: int) -> dict[str, Any]:
    """Every query in every mode, dense and hybrid again with the query vector given, and the embedding
    alone; the order rotates per query. Seconds."""
    given = Retriever(retriever.catalog, retriever.vectors, KnownQueries(embedder, [q for _, q in queries]))
    runs: dict[str, Callable[[str], int]] = {
        "embed": lambda q: len(embedder.embed_batch([q], "query")),
        **{m: functools.partial(lambda q, m: len(retriever.search(q, k, m)), m=m) for m in MODES},
        **{f"{m}{GIVEN}": functools.partial(lambda q, m: len(given.search(q, k, m)), m=m) for m in GIVEN_MODES},
    }
    for _, q in queries[:warmup]:
        for run in runs.values():
            run(q)
    others = OtherLoad()
    kinds = list(runs)
    times: dict[str, list[float]] = {m: [] for m in kinds}
    cpu: dict[str, list[float]] = {m: [] for m in kinds}  # CPU seconds of the whole process (all its threads)
    per_set: dict[str, dict[str, list[float]]] = {}
    hits_returned: dict[str, int] = dict.fromkeys(kinds, 0)
    for i, (ds, q) in enumerate(queries):
        order = kinds[i % len(kinds):] + kinds[: i % len(kinds)]
        for kind in order:
            c = time.process_time()
            t = time.perf_counter()
            hits_returned[kind] += runs[kind](q)
            dt = time.perf_counter() - t
            cpu[kind].append(time.process_time() - c)
            times[kind].append(dt)
            per_set.setdefault(ds, {}).setdefault(kind, []).append(dt)
    embed_p50 = percentile(times["embed"], 0.5)
    modes: dict[str, Any] = {}
    for mode in kinds[1:]:
        st = stats_ms(times[mode])
        st["p50_over_embed"] = round(st["p50"] / embed_p50, 2) if embed_p50 else None
        st["mean_hits"] = round(hits_returned[mode] / len(queries), 2)
        st["cpu_p50"] = round(percentile(cpu[mode], 0.5), 5)
        modes[mode] = st
    embed_only = {**stats_ms(times["embed"]), "cpu_p50": round(percentile(cpu["embed"], 0.5), 5)}
    return {"modes": modes, "embed_only": embed_only, "other_processes_busy_cores": others.cores(),
            "by_set_p50": {ds: {kind: round(percentile(v, 0.5), 5) for kind, v in d.items()}
                           for ds, d in per_set.items()}}


# -- through the HTTP API ----------------------------------------------------------------------------
def serve_index(cfg: Config, home: Path, catalog: Catalog, vectors: ChromaVectors, cache: EmbeddingCache,
                embedder: Embedder, tree: Path, env: dict[str, str]) -> Daemon:
    """A real ``ragd serve`` over the index as written: the catalog is told what the indexer would have
    recorded (its signature, the model, the source folder) so that the start-up scan finds every note
    unchanged. Returns the started daemon once that scan is done."""
    indexer = Indexer(catalog, cache, vectors, embedder, lambda: nullcontext(ParsePool()),
                      chunk_tokens=cfg.chunk_tokens)
    catalog.set_meta("signature", indexer.signature)
    catalog.set_meta("model_id", embedder.model_id)
    catalog.add_source(str(tree))
    daemon = Daemon(home, [tree], RAGD_HISTORY="off", **env)
    t = time.perf_counter()
    daemon.start()
    wait_initial_index(daemon, tree, t, 3600)
    return daemon


def measure_http(daemon: Daemon, queries: list[tuple[str, str]], k: int, warmup: int) -> dict[str, Any]:
    """Every query in every mode through ``POST /v1/search``, timed by the client: one keep-alive connection
    with the API token, as a tool calling the daemon would. The order of modes rotates per query. Seconds."""
    headers = {"Authorization": f"Bearer {daemon.token_file.read_text().strip()}"}
    times: dict[str, list[float]] = {m: [] for m in MODES}
    hits: dict[str, int] = dict.fromkeys(MODES, 0)
    with httpx.Client(base_url=daemon.url, headers=headers, trust_env=False, timeout=120) as http:
        def search(q: str, mode: str) -> int:
            r = http.post("/v1/search", json={"query": q, "k": k, "mode": mode})
            r.raise_for_status()
            return len(r.json()["hits"])

        for _, q in queries[:warmup]:
            for mode in MODES:
                search(q, mode)
        others = OtherLoad()
        for i, (_, q) in enumerate(queries):
            for mode in MODES[i % len(MODES):] + MODES[: i % len(MODES)]:
                t = time.perf_counter()
                hits[mode] += search(q, mode)
                times[mode].append(time.perf_counter() - t)
    return {"modes": {m: {**stats_ms(times[m]), "mean_hits": round(hits[m] / len(queries), 2)} for m in MODES},
            "other_processes_busy_cores": others.cores()}


def http_row(cfg: Config, home: Path, writer: Catalog, vectors: ChromaVectors, cache: EmbeddingCache,
             embedder: Embedder, tree: Path, env: dict[str, str], queries: list[tuple[str, str]],
             args: argparse.Namespace) -> dict[str, Any]:
    load_before = load_avg()
    t = time.perf_counter()
    daemon = serve_index(cfg, home, writer, vectors, cache, embedder, tree, env)
    try:
        status = daemon.status()
        started_s = round(time.perf_counter() - t, 1)
        print(f"  ragd serve: {status['chunks']:,} chunks, start-up scan done in {started_s} s", flush=True)
        result = measure_http(daemon, queries, args.k, args.warmup)
    finally:
        daemon.stop_quietly()
    return {"start_s": started_s, "chunks": status["chunks"], **result,
            "load_avg_1m": {"start": load_before, "end": load_avg()}}


# -- the run -----------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chunks", default="10000,100000", help="comma-separated index sizes, in chunks")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--k", type=int, default=5, help="hits per search (the API's default)")
    ap.add_argument("--warmup", type=int, default=10, help="queries run in every mode before timing, per size")
    ap.add_argument("--embedder", default=None, help="default: the configured default embedder")
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--cache", type=Path, default=None,
                    help="an embedding cache (SQLite) to keep the sentence vectors between runs; default: temporary")
    ap.add_argument("--quiesce", type=float, default=900,
                    help="at most this many seconds to wait for the process to go idle after a write")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (the index)")
    ap.add_argument("--http", action="store_true",
                    help="also time the searches through a real `ragd serve` over the same index at each size "
                         "(the notes are then written to disk, so that the daemon finds them unchanged)")
    ap.add_argument("--jitter", type=float, default=0.0,
                    help="store each repeated unit's copies as near duplicates, moved off the real vector by this "
                         "share of its length (0: exact duplicates)")
    ap.add_argument("--reuse-above", type=int, default=0,
                    help="past this many chunks, new notes are copies of earlier ones (no new texts to embed; "
                         "with --jitter their vectors are near duplicates)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    ap.add_argument("--out-file", default="query-latency.json",
                    help="the report's name in --out (bench.report also reads query-latency-1m.json)")
    args = ap.parse_args()
    sizes = sorted(int(s.replace("_", "")) for s in args.chunks.split(",") if s.strip())

    tmp = Path(tempfile.mkdtemp(prefix="ragd-query-latency-")).resolve()
    env = {"RAGD_EMBEDDER": args.embedder} if args.embedder else {}
    cfg = load({"RAGD_HOME": str(tmp / "home"), **env})
    tree = tmp / "notes"
    rng = random.Random(args.seed)
    started = time.perf_counter()
    english = load_passages(args.data)
    japanese = japanese_passages(args.data)
    passages = english + japanese
    print(f"{len(english):,} English and {len(japanese):,} Japanese real passages; embedder {cfg.embedder}", flush=True)
    embedder = embed.create(cfg.embedder)
    settings = ChunkSettings(max_tokens=cfg.chunk_tokens)
    # the embedder's own token counter, as the indexer chunks with it; memoised, since notes repeat paragraphs
    count = functools.lru_cache(maxsize=None)(embedder.count_tokens)
    notes: list[Note] = []
    plan: list[list[Note]] = []
    for size in sizes:  # decide every note first: the distinct unit texts are embedded once, up front
        plan.append(notes_for(size, rng, passages, count, settings, notes, tree, args.reuse_above))
    all_units = [u for n in notes for units in n.units for u in units]
    print(f"{len(notes):,} notes, {sum(len(n.chunks) for n in notes):,} chunks, {len(all_units):,} units "
          f"({time.perf_counter() - started:.1f} s)", flush=True)
    cache = EmbeddingCache(args.cache or tmp / "embeddings.sqlite")
    embedded = embed_all(cache, embedder, all_units)
    by_hash = embedded.pop("vectors")
    print(f"embedded {embedded['distinct']:,} distinct units ({embedded['embedded']:,} new) "
          f"in {embedded['seconds']} s", flush=True)

    report: dict[str, Any] = {
        "machine": machine(),
        "params": {"chunks": sizes, "queries": args.queries, "k": args.k, "warmup": args.warmup, "seed": args.seed,
                   "embedder": cfg.embedder, "model_id": embedder.model_id, "chunk_tokens": cfg.chunk_tokens,
                   "passages": {"english": len(english), "japanese": len(japanese)}, "query_sets": list(QA_SETS),
                   "http": args.http, "jitter": args.jitter, "reuse_above": args.reuse_above},
        "embedding": embedded,
        "load_avg_1m": {"start": load_avg()},
        "sizes": [],
    }
    queries = questions(args.data, args.queries, random.Random(args.seed + 1))
    writer = Catalog(cfg.catalog_path)
    vectors = ChromaVectors.persistent(cfg.chroma_path, embedder.model_id)
    copies = Copies(by_hash, args.jitter, args.seed)
    out = args.out / args.out_file
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        stored = 0
        seen: set[str] = set()
        for batch in plan:
            seen.update(text_hash(u) for n in batch for units in n.units for u in units)
            t = time.perf_counter()
            build = write_notes(batch, writer, vectors, copies, on_disk=args.http)
            build["seconds"] = round(time.perf_counter() - t, 1)
            stored += len(batch)
            counts = writer.counts()
            n_vectors = vectors.count()
            print(f"\n== {counts['chunks']:,} chunks ({stored:,} notes, {n_vectors:,} vectors, {len(seen):,} distinct) "
                  f"written in {build['seconds']} s (catalog {build['catalog_s']} s, vectors {build['vectors_s']} s)",
                  flush=True)
            quiet = quiesce(args.quiesce)
            print(f"  after the write, chromadb's background work: {quiet['waited_s']} s "
                  f"({quiet['cpu_s']} CPU s) until the process was idle", flush=True)
            load_before = load_avg()
            reader = Catalog(cfg.catalog_path, readonly=True)  # as a request thread reads
            try:
                result = measure(Retriever(reader, vectors, embedder), embedder, queries, args.k, args.warmup)
            finally:
                reader.close()
            row = {"chunks": counts["chunks"], "files": counts["files"], "vectors": n_vectors,
                   "distinct_vectors": len(seen), "build": build, "settle": quiet, **result,
                   "rss_mb": round(psutil.Process().memory_info().rss / 2**20),
                   "store_mb": store_mb(cfg),
                   "load_avg_1m": {"start": load_before, "end": load_avg()}}
            report["sizes"].append(row)
            print_size(row)
            if args.http:
                row["http"] = http_row(cfg, tmp / "home", writer, vectors, cache, embedder, tree, env, queries, args)
                print_http(row["http"])
            report["notes"] = notes_text(report)
            out.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    finally:
        writer.close()
        cache.close()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print_table(report)
    print(f"\nwritten to {out}")


def notes_text(r: dict[str, Any]) -> list[str]:
    p, e = r["params"], r["embedding"]
    cached = e["distinct"] - e["embedded"]
    return [
        f"{e['distinct']:,} distinct sentences embedded with the real model"
        + (f" ({cached:,} of them taken from the embedding cache kept by an earlier run, --cache)" if cached else "")
        + f"; {e['seconds']} s in this run.",
        f"{p['queries']} real questions (squad_en, jsquad_ja, cranfield_en in equal shares), k = {p['k']}, "
        f"embedder {p['embedder']}; ragd's Retriever over a persistent chromadb collection and the read-only "
        "catalog's FTS5 index, in process (the HTTP round trip is not included).",
        "The index was written through the stores' own API with real embeddings of real sentences (each distinct "
        "sentence embedded once); notes reuse sentences, so the vector store holds "
        + (f"near duplicates: every copy after a text's first is moved off its vector by {p['jitter']:g} of its "
           "length (--jitter), as an edited copy would be" if p.get("jitter") else "exact duplicates")
        + " (vectors vs distinct_vectors in the JSON)."
        + (f" Past {p['reuse_above']:,} chunks the notes are copies of the earlier ones (--reuse-above): no new "
           "text to embed, the lexical index holding the same terms many times over." if p.get("reuse_above") else ""),
        "dense and hybrid embed the query; p50 / query embedding compares each mode with embedding the query alone, "
        "timed in the same loop. The rows '(vector given)' are the same searches with the query vector embedded "
        "beforehand: what the search costs besides the query embedding (hybrid overlaps its lexical side with "
        "the embedding, so hybrid minus the embedding alone is less than this).",
        *(["HTTP: the same questions through a real `ragd serve` over the same index (its start-up scan finds "
           "every note unchanged), POST /v1/search on one keep-alive connection with the API token, timed by the "
           "client; the daemon embeds each query itself."] if p.get("http") else []),
        "Other work on the machine slows the query embedding most (its threads compete for the cores): each "
        "size records how many cores other processes kept busy while it was measured "
        f"({', '.join(str(x.get('other_processes_busy_cores')) for x in r['sizes'])}). cpu_p50 in the JSON is "
        "the whole process's CPU time per search, the embedding's threads included (in process; over HTTP the "
        "daemon's embedding worker, another process, does it).",
    ]


def print_size(row: dict[str, Any]) -> None:
    e = row["embed_only"]
    print(f"  this process: {row['rss_mb']:,} MB resident; the index on disk: {row['store_mb']:,} MB")
    print(f"  query embedding alone: p50 {e['p50'] * 1000:.1f} ms, p95 {e['p95'] * 1000:.1f} ms "
          f"(other processes kept {row['other_processes_busy_cores']} cores busy meanwhile)")
    for mode, st in row["modes"].items():
        print(f"  {mode:<8} p50 {st['p50'] * 1000:.1f} ms, p95 {st['p95'] * 1000:.1f} ms, "
              f"mean {st['mean'] * 1000:.1f} ms, p50 / embedding {st['p50_over_embed']}", flush=True)


def print_http(h: dict[str, Any]) -> None:
    for mode, st in h["modes"].items():
        print(f"  HTTP {mode:<8} p50 {st['p50'] * 1000:.1f} ms, p95 {st['p95'] * 1000:.1f} ms, "
              f"mean {st['mean'] * 1000:.1f} ms (others kept {h['other_processes_busy_cores']} cores busy)",
              flush=True)


def print_table(r: dict[str, Any]) -> None:
    m, p = r["machine"], r["params"]
    print(f"\n{m['cpu']}, {m['cores']} cores; embedder {p['embedder']}; {p['queries']} queries, k = {p['k']}\n")
    print("| chunks | vectors | mode | p50 | p95 | mean | p50 / query embedding | others' busy cores |")
    print("|---|---|---|---|---|---|---|---|")
    for s in r["sizes"]:
        e = s["embed_only"]
        busy = s["other_processes_busy_cores"]
        print(f"| {s['chunks']:,} | {s['vectors']:,} | query embedding alone | {e['p50'] * 1000:.1f} ms "
              f"| {e['p95'] * 1000:.1f} ms | {e['mean'] * 1000:.1f} ms | 1.00 | {busy} |")
        for mode, st in s["modes"].items():
            print(f"| {s['chunks']:,} | {s['vectors']:,} | {mode} | {st['p50'] * 1000:.1f} ms | "
                  f"{st['p95'] * 1000:.1f} ms | {st['mean'] * 1000:.1f} ms | {st['p50_over_embed']} | {busy} |")
        h = s.get("http")
        for mode, st in (h["modes"] if h else {}).items():
            print(f"| {s['chunks']:,} | {s['vectors']:,} | {mode}, HTTP | {st['p50'] * 1000:.1f} ms | "
                  f"{st['p95'] * 1000:.1f} ms | {st['mean'] * 1000:.1f} ms | "
                  f"{st['p50'] / e['p50']:.2f} | {h['other_processes_busy_cores']} |")


if __name__ == "__main__":
    main()
