"""Search latency under concurrent indexing: 20 clients searching while 200 new files are saved.

Builds a tree of short notes (real sentences from the shared data, as bench/daemon_latency's), starts a
real ``ragd serve`` over it (private RAGD_HOME, the real default embedder, loopback only), waits for the
start-up scan and for the daemon to go quiet, then measures with ``--clients`` concurrent clients (one
httpx client each: keep-alive, the API token), each sending ``POST /v1/search`` back to back with real
questions (squad_en, jsquad_ja, cranfield_en):
  single client    — one client alone on the idle daemon (the round trip without queueing)
  idle             — all clients on the idle daemon: the baseline
  burst alone      — ``--burst`` new notes written with nobody searching, timed until all are indexed:
                     indexing's own speed, the baseline for the burst under load (``--no-solo`` skips it)
  under load       — all clients for ``--load-s`` seconds while ``--burst`` new notes (sentences the
                     tree does not hold, so they are really embedded) are written as fast as possible;
                     the burst's progress is polled (``GET /v1/files``), and the time until the last of
                     them is indexed is checked with a lexical search for its unique token
Reported: per-request latency p50/p95/p99/max and errors per phase; p95 under load over the idle p95 (the
ratio); the burst's completion time (first and last file indexed); the daemon's RSS and CPU; the load
other processes put on the machine meanwhile. Target: p95 under load <= 300 ms with 20 clients.

    python -m bench.search_under_load [--notes 300] [--burst 200] [--clients 20] [--idle-s 10]
                                      [--load-s 30] [--mode hybrid] [--no-solo] [--keep]
                                      [--out bench/out/search_under_load.json]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil

from bench.daemon_latency import load_avg, machine, percentile, token, wait_initial_index
from bench.note_tree import build_tree, load_passages, note_text
from bench.query_latency import questions
from tests.daemon_proc import Daemon, wait_until

REPO = Path(__file__).resolve().parents[1]
TARGET_P95_S = 0.3
BURST_TIMEOUT_S = 600.0  # the burst must be indexed within this long after it starts (a bound, not a target)
REQUEST_TIMEOUT_S = 60.0


# -- measuring ------------------------------------------------------------------------------------
def stats(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(percentile(values, 0.5), 4), "p95": round(percentile(values, 0.95), 4),
            "p99": round(percentile(values, 0.99), 4), "max": round(max(values), 4),
            "mean": round(statistics.fmean(values), 4)}


@dataclass
class Sample:
    at: float  # seconds since the phase began, when the request was sent
    seconds: float
    error: str | None = None


@dataclass
class Phase:
    """Clients searching back to back until a deadline; every request's latency kept."""

    samples: list[Sample] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, daemon: Daemon, clients: int, seconds: float, queries: list[str], k: int, mode: str,
            seed: int, started: threading.Event | None = None) -> None:
        t0 = time.perf_counter()
        deadline = t0 + seconds
        token_header = {"Authorization": f"Bearer {daemon.token_file.read_text().strip()}"}

        def client(n: int) -> None:
            rng = random.Random(seed * 1000 + n)
            mine: list[Sample] = []
            with httpx.Client(base_url=daemon.url, headers=token_header, trust_env=False,
                              timeout=REQUEST_TIMEOUT_S) as http:
                while (sent := time.perf_counter()) < deadline:
                    error = None
                    try:
                        r = http.post("/v1/search", json={"query": rng.choice(queries), "k": k, "mode": mode})
                        if r.status_code != 200:
                            error = f"HTTP {r.status_code}"
                    except httpx.HTTPError as exc:
                        error = type(exc).__name__
                    mine.append(Sample(sent - t0, time.perf_counter() - sent, error))
            with self.lock:
                self.samples += mine

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
        for t in threads:
            t.start()
        if started is not None:
            started.set()
        for t in threads:
            t.join(seconds + REQUEST_TIMEOUT_S + 10)

    def summary(self, since: float = 0.0) -> dict[str, Any]:
        done = [s for s in self.samples if s.at >= since]
        ok = [s.seconds for s in done if s.error is None]
        errors: dict[str, int] = {}
        for s in done:
            if s.error is not None:
                errors[s.error] = errors.get(s.error, 0) + 1
        span = max((s.at + s.seconds for s in done), default=0.0) - since
        return {**stats(ok), "errors": sum(errors.values()), "error_kinds": errors,
                "requests_per_s": round(len(done) / span, 1) if span > 0 else None}

    def timeline(self, bucket: float = 2.0) -> list[dict[str, Any]]:
        rows: dict[int, list[float]] = {}
        for s in self.samples:
            rows.setdefault(int(s.at // bucket), []).append(s.seconds)
        return [{"t": round(b * bucket, 1), "n": len(v), "p50": round(percentile(v, 0.5), 4),
                 "p95": round(percentile(v, 0.95), 4)} for b, v in sorted(rows.items())]


class DaemonUsage:
    """The daemon's CPU time and RSS (its parser workers included), and what other processes used meanwhile."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.me = psutil.Process()
        self.t0 = time.perf_counter()
        self.busy0, self.daemon0, self.mine0 = self._busy(), self._cpu(self.proc), self._cpu(self.me, False)
        self.rss_peak_mb = self.rss_mb()

    def tree(self, proc: psutil.Process) -> list[psutil.Process]:
        try:
            return [proc, *proc.children(recursive=True)]
        except psutil.Error:
            return [proc]

    def _cpu(self, proc: psutil.Process, children: bool = True) -> float:
        total = 0.0
        for p in self.tree(proc) if children else [proc]:
            try:
                t = p.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total

    @staticmethod
    def _busy() -> float:
        t = psutil.cpu_times()
        return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))

    def rss_mb(self) -> float:
        """The daemon process's own RSS (the models live there; parser workers are counted apart)."""
        try:
            mb = self.proc.memory_info().rss / 1e6
        except psutil.Error:
            return 0.0
        self.rss_peak_mb = max(getattr(self, "rss_peak_mb", 0.0), mb)
        return round(mb, 1)

    def cores(self) -> dict[str, float]:
        wall = time.perf_counter() - self.t0
        daemon = self._cpu(self.proc) - self.daemon0
        bench = self._cpu(self.me, False) - self.mine0  # the daemon is this process's child: not counted twice
        others = self._busy() - self.busy0 - daemon - bench
        return {"daemon": round(daemon / wall, 2), "bench_clients": round(bench / wall, 2),
                "other_processes": round(max(0.0, others) / wall, 2)}


def quiet(daemon: Daemon, max_wait: float = 120.0, window: float = 2.0, threshold: float = 0.05) -> float:
    """Wait until the daemon uses under ``threshold`` cores (chromadb compacts in the background after a
    large write); returns the seconds waited."""
    assert daemon.proc is not None
    usage = DaemonUsage(daemon.proc.pid)
    started = time.perf_counter()
    while time.perf_counter() - started < max_wait:
        before = usage._cpu(usage.proc)
        time.sleep(window)
        if (usage._cpu(usage.proc) - before) / window < threshold:
            break
    return round(time.perf_counter() - started, 1)


# -- the burst -------------------------------------------------------------------------------------
def write_burst(folders: list[Path], passages: list[list[str]], count: int, rng: random.Random,
                prefix: str) -> list[tuple[Path, str]]:
    """``count`` new notes as fast as they can be written; each holds a unique token. Returns (path, token)."""
    written: list[tuple[Path, str]] = []
    for i in range(count):
        tok = token(rng)
        name = f"{prefix}-{i:04d}.{'md' if i % 4 else 'txt'}"
        target = folders[i % len(folders)] / name
        target.write_text(note_text(rng, passages, name, rng.randint(1, 3),
                                    extra=f"The reference code {tok} was noted here."), encoding="utf-8")
        written.append((target, tok))
    return written


def watch_burst(daemon: Daemon, prefix: str, count: int, t0: float, usage: DaemonUsage, every: float = 0.25
                ) -> dict[str, Any]:
    """Poll how many files named ``prefix``-* are indexed until all ``count`` are (or the bound passes)."""
    progress: list[tuple[float, int]] = []
    first: float | None = None
    with httpx.Client(base_url=daemon.url, trust_env=False, timeout=REQUEST_TIMEOUT_S,
                      headers={"Authorization": f"Bearer {daemon.token_file.read_text().strip()}"}) as http:
        while True:
            r = http.get("/v1/files", params={"q": f"{prefix}-", "status": "indexed", "limit": 1})
            r.raise_for_status()
            done = int(r.json()["total"])
            now = time.perf_counter() - t0
            usage.rss_mb()
            if done and first is None:
                first = now
            if not progress or progress[-1][1] != done:
                progress.append((round(now, 2), done))
            if done >= count:
                return {"first_indexed_s": None if first is None else round(first, 2),
                        "all_indexed_s": round(now, 2), "progress": progress}
            if now > BURST_TIMEOUT_S:
                return {"first_indexed_s": None if first is None else round(first, 2), "all_indexed_s": None,
                        "indexed": done, "progress": progress}
            time.sleep(every)


def indexed_at(progress: list[tuple[float, int]], t: float) -> int:
    return max((n for at, n in progress if at <= t), default=0)


# -- the run ----------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--notes", type=int, default=300, help="notes in the tree before the burst")
    ap.add_argument("--burst", type=int, default=200, help="new notes written during the load phase")
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--idle-s", type=float, default=10.0, help="seconds of searching on the idle daemon")
    ap.add_argument("--load-s", type=float, default=30.0, help="seconds of searching from the burst's start")
    ap.add_argument("--single-s", type=float, default=5.0, help="seconds of one client alone (0: skip)")
    ap.add_argument("--warmup-s", type=float, default=3.0)
    ap.add_argument("--no-solo", dest="solo", action="store_false",
                    help="skip the burst with nobody searching (indexing's own speed, the throughput baseline)")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--mode", choices=("hybrid", "dense", "lexical"), default="hybrid")
    ap.add_argument("--queries", type=int, default=300, help="distinct questions the clients draw from")
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (tree, RAGD_HOME, daemon.log)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "search_under_load.json")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    tmp = Path(tempfile.mkdtemp(prefix="ragd-search-load-")).resolve()
    tree, home = tmp / "tree", tmp / "home"
    passages = load_passages(args.data)
    rng.shuffle(passages)
    # the bursts' sentences are not in the tree (nor in each other): their files are really embedded, not
    # served by the embedding cache
    half, three_quarters = len(passages) // 2, len(passages) * 3 // 4
    notes = build_tree(tree, args.notes, passages[:half], args.seed)
    folders = sorted({p.parent for p in notes})
    queries = [q for _, q in questions(args.data, args.queries, rng)]
    print(f"tree: {len(notes)} notes in {len(folders)} folders under {tmp}; {len(queries)} questions", flush=True)

    daemon = Daemon(home, [tree], RAGD_HISTORY="off")
    report: dict[str, Any] = {
        "benchmark": "search_under_load",
        "machine": machine(),
        "params": {"notes": len(notes), "burst": args.burst, "clients": args.clients, "idle_s": args.idle_s,
                   "load_s": args.load_s, "k": args.k, "mode": args.mode, "queries": len(queries),
                   "seed": args.seed, "debounce_s": float(daemon.env["RAGD_DEBOUNCE_S"])},
        "load_avg_1m": {"start": load_avg()},
    }
    try:
        t_spawn = time.perf_counter()
        daemon.start()
        assert daemon.proc is not None
        wait_initial_index(daemon, tree, time.perf_counter(), 3600)
        status = daemon.status()
        report["initial_index"] = {"seconds": round(time.perf_counter() - t_spawn, 1), "files": status["indexed"],
                                   "chunks": status["chunks"], "model": status["model"]}
        report["settle_wait_s"] = quiet(daemon)
        print(f"indexed {status['indexed']} files, {status['chunks']} chunks "
              f"({report['initial_index']['seconds']} s from spawn); quiet after {report['settle_wait_s']} s",
              flush=True)

        Phase().run(daemon, args.clients, args.warmup_s, queries, args.k, args.mode, args.seed)  # models warm
        if args.single_s > 0:
            single = Phase()
            single.run(daemon, 1, args.single_s, queries, args.k, args.mode, args.seed + 1)
            report["single_client"] = single.summary()
            print(f"single client: p50 {report['single_client']['p50'] * 1000:.0f} ms, "
                  f"p95 {report['single_client']['p95'] * 1000:.0f} ms", flush=True)

        usage = DaemonUsage(daemon.proc.pid)
        idle = Phase()
        idle.run(daemon, args.clients, args.idle_s, queries, args.k, args.mode, args.seed + 2)
        report["idle"] = {**idle.summary(), "cores": usage.cores(), "rss_mb": usage.rss_mb()}
        report["load_avg_1m"]["idle"] = load_avg()
        print(f"idle, {args.clients} clients: p50 {report['idle']['p50'] * 1000:.0f} ms, "
              f"p95 {report['idle']['p95'] * 1000:.0f} ms ({report['idle']['requests_per_s']} req/s)", flush=True)

        if args.solo:  # the same burst with nobody searching: indexing's own speed, to compare with under load
            usage = DaemonUsage(daemon.proc.pid)
            t0 = time.perf_counter()
            solo_files = write_burst(folders, passages[half:three_quarters], args.burst, rng, "solo")
            solo = watch_burst(daemon, "solo", args.burst, t0, usage)
            report["burst_alone"] = {"files": len(solo_files), "first_indexed_s": solo["first_indexed_s"],
                                     "all_indexed_s": solo["all_indexed_s"], "cores": usage.cores(),
                                     "progress": solo["progress"]}
            print(f"burst alone: {len(solo_files)} files indexed after {solo['all_indexed_s']} s", flush=True)
            wait_until(lambda: daemon.status()["indexing"]["state"] == "idle", 120, "the writer to go idle",
                       every=0.2)
            report["settle_wait_after_solo_s"] = quiet(daemon)

        # under load: the clients start, then the burst is written while they search
        usage = DaemonUsage(daemon.proc.pid)
        loaded = Phase()
        started = threading.Event()
        clients = threading.Thread(target=loaded.run, daemon=True,
                                   args=(daemon, args.clients, args.load_s, queries, args.k, args.mode,
                                         args.seed + 3, started))
        clients.start()
        started.wait(30)
        t0 = time.perf_counter()
        written = write_burst(folders, passages[three_quarters:], args.burst, rng, "burst")
        write_s = time.perf_counter() - t0
        burst = watch_burst(daemon, "burst", args.burst, t0, usage)
        clients.join(args.load_s + REQUEST_TIMEOUT_S + 30)
        report["under_load"] = {**loaded.summary(), "cores": usage.cores(), "rss_mb": usage.rss_mb(),
                                "rss_peak_mb": round(usage.rss_peak_mb, 1), "timeline": loaded.timeline()}
        report["load_avg_1m"]["under_load"] = load_avg()
        # the last file written is a hit for its own token once the burst is in
        last_path, last_token = written[-1]
        hits = [h["path"] for h in daemon.api().post("/v1/search", json={"query": last_token, "k": 3,
                                                                          "mode": "lexical"}).json()["hits"]]
        burst.update({"files": len(written), "write_s": round(write_s, 2),
                      "indexed_when_clients_stopped": indexed_at(burst["progress"], args.load_s),
                      "last_file_searchable": str(last_path) in hits})
        report["burst"] = burst
        print(f"under load: p50 {report['under_load']['p50'] * 1000:.0f} ms, "
              f"p95 {report['under_load']['p95'] * 1000:.0f} ms, p99 {report['under_load']['p99'] * 1000:.0f} ms, "
              f"{report['under_load']['errors']} errors; burst of {len(written)} written in {write_s:.1f} s, "
              f"all indexed after {burst['all_indexed_s']} s", flush=True)

        p95_idle, p95_load = report["idle"].get("p95"), report["under_load"].get("p95")
        report["ratio_p95_load_over_idle"] = round(p95_load / p95_idle, 2) if p95_idle and p95_load else None
        report["target"] = {"metric": f"search p95 with {args.clients} clients during a {args.burst}-file burst",
                            "limit_s": TARGET_P95_S, "measured_p95_s": p95_load,
                            "pass": bool(p95_load is not None and p95_load <= TARGET_P95_S
                                         and not report["under_load"]["errors"]
                                         and burst["all_indexed_s"] is not None)}
        report["load_avg_1m"]["end"] = load_avg()
        wait_until(lambda: daemon.status()["indexing"]["state"] == "idle", 120, "the writer to go idle", every=0.2)
    except BaseException:
        print(f"--- daemon log tail ---\n{daemon.tail()}", file=sys.stderr)
        raise
    finally:
        if daemon.proc is not None and daemon.proc.poll() is None:
            try:
                report["exit_code"] = daemon.terminate()
            except Exception as exc:
                report["exit_code"] = f"{type(exc).__name__}: {exc}"
                daemon.stop_quietly()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1), encoding="utf-8")
    print_table(report)
    print(f"\nwritten to {args.out}")


def print_table(r: dict[str, Any]) -> None:
    m, p, b = r["machine"], r["params"], r["burst"]

    def ms(x: Any) -> str:
        return "–" if x is None else f"{x * 1000:.0f} ms"

    print(f"\n{m['cpu']}, {m['cores']} cores, {m['ram_gb']} GB RAM; {p['notes']} notes, model "
          f"{r['initial_index']['model']}; {p['clients']} clients, mode {p['mode']}, k = {p['k']}; "
          f"load average (1 min) {r['load_avg_1m']}\n")
    print("| phase | requests | req/s | p50 | p95 | p99 | max | errors | daemon cores | others' cores | RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, key in (("one client, idle", "single_client"), (f"{p['clients']} clients, idle", "idle"),
                      (f"{p['clients']} clients, {p['burst']}-file burst", "under_load")):
        s = r.get(key)
        if not s or not s.get("n"):
            continue
        cores = s.get("cores", {})
        rss = f"{s['rss_mb']:.0f} MB" if "rss_mb" in s else "–"
        print(f"| {name} | {s['n']} | {s['requests_per_s']} | {ms(s['p50'])} | {ms(s['p95'])} | {ms(s['p99'])} | "
              f"{ms(s['max'])} | {s['errors']} | {cores.get('daemon', '–')} | {cores.get('other_processes', '–')} | "
              f"{rss} |")
    solo = r.get("burst_alone")
    if solo:
        print(f"\nburst alone (nobody searching): {solo['files']} files, all indexed after {solo['all_indexed_s']} s")
    print(f"burst under load: {b['files']} files written in {b['write_s']} s; "
          f"first indexed after {b['first_indexed_s']} s, "
          f"all after {b['all_indexed_s']} s ({b['indexed_when_clients_stopped']} when the clients stopped); "
          f"last file searchable: {b['last_file_searchable']}")
    t = r["target"]
    print(f"p95 under load / idle p95 = {r['ratio_p95_load_over_idle']}; target p95 <= {ms(t['limit_s'])}: "
          f"{ms(t['measured_p95_s'])} → {'PASS' if t['pass'] else 'FAIL'}")


if __name__ == "__main__":
    main()
