"""Resident memory of a real ``ragd serve``, through its life: idle, indexing, answering, idle again.

Starts a real daemon (private RAGD_HOME, the default embedder and the default LLM, SmolLM2-135M GGUF
through llama-cpp-python) over an empty folder, and samples its RSS with psutil every 0.2 s from a
thread, the daemon and all its child processes (the parser workers) summed:
  idle after start        — nothing indexed yet, no question asked
  indexing docs_corpus    — ``POST /v1/sources`` with ../shared/data/docs_corpus (122 files in many formats,
                            29 of them malformed or hostile: bombs, truncated PDFs ...), until written (peak)
  idle after indexing     — the embedding worker and the parser worker are still running
  idle after housekeeping — 30+ s later: the daemon's idle housekeeping has handed freed heap back
  idle 60 s after indexing — as issue 16 measures it (idle workers and the Japanese dictionary let go by then)
  answering               — a few ``POST /v1/ask`` questions about those files, one at a time (peak)
  idle, LLM loaded        — right after the last answer
  idle, LLM unloaded      — after the idle unload (``[llm] idle_unload_s`` is set to a few seconds in the
                            private config; the daemon checks every 30 s), seen as the GGUF file's mapping
                            leaving the daemon's address space
  idle 60 s after the unload — as issue 16 measures it
Baseline in the same run: a bare ``python -c "import ragd.daemon.cli"`` (what the CLI costs before it
does anything), and ``python -c pass``.

RSS of a process tree sums each process's resident pages, so pages shared between the daemon and its
workers (the Python runtime's libraries) are counted once per process; the daemon's own RSS and the
workers' are reported apart as well, with the kernel's high-water mark (VmHWM) of the daemon process.

    python -m bench.memory [--data ../shared/data] [--idle-unload 5] [--out bench/out]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from bench.daemon_latency import idle, load_avg, machine, shut_down
from ragd.daemon.server.runtime import HOUSEKEEPING_S
from tests.daemon_proc import Daemon, wait_until
from tests.helpers import REPO, ragd_env

MB = 1024 * 1024
# phases reported by their peak; idle ones by their last sample
BUSY = ("peak_during_start", "peak_indexing_docs_corpus", "peak_answering")
# About the files in docs_corpus (answers exist there); the point is to make the daemon load and run its LLM.
QUESTIONS = (
    "How many question-answer pairs does JaQuAD contain?",
    "Which team won Super Bowl 50?",
    "Who constructed JGLUE?",
    "JEMHopQAとは何ですか？",
)


# -- sampling ----------------------------------------------------------------------------------------
def tree_rss(pid: int) -> tuple[int, int, int] | None:
    """(the process's RSS, its descendants' summed RSS, how many descendants) in bytes; None if it is gone."""
    try:
        proc = psutil.Process(pid)
        main = proc.memory_info().rss
        kids = proc.children(recursive=True)
    except psutil.Error:
        return None
    total = 0
    alive = 0
    for kid in kids:
        try:
            total += kid.memory_info().rss
            alive += 1
        except psutil.Error:  # exited between the listing and the read
            continue
    return main, total, alive


def high_water_mb(pid: int) -> float | None:
    """The kernel's peak RSS of one process (VmHWM), in MB (Linux only)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except (OSError, ValueError):
        pass
    return None


def mapped(pid: int, *needles: str) -> dict[str, bool]:
    """Whether any file whose path contains each needle is mapped into the process (e.g. the GGUF model)."""
    found = dict.fromkeys(needles, False)
    try:
        paths = [m.path for m in psutil.Process(pid).memory_maps(grouped=True)]
    except psutil.Error:
        return found
    for needle in needles:
        found[needle] = any(needle in p for p in paths)
    return found


class RssSampler:
    """Samples a process tree's RSS every ``every`` seconds from a daemon thread.

    ``pid`` is asked for on each tick, so the sampler can start before the process exists (it waits).
    Samples are (perf_counter time, main RSS, children RSS, children) tuples; ``window`` sums up a stretch.
    """

    def __init__(self, pid: Callable[[], int | None], every: float = 0.2) -> None:
        self.pid = pid
        self.every = every
        self.samples: list[tuple[float, int, int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._lock = threading.Lock()

    def start(self) -> RssSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.is_set():
            pid = self.pid()
            if pid is not None:
                got = tree_rss(pid)
                if got is not None:
                    with self._lock:
                        self.samples.append((time.perf_counter(), *got))
            self._stop.wait(self.every)

    def window(self, t0: float, t1: float | None = None) -> dict[str, Any]:
        """Peak and last RSS (MB) between ``t0`` and ``t1`` (now if None)."""
        end = time.perf_counter() if t1 is None else t1
        with self._lock:
            rows = [s for s in self.samples if t0 <= s[0] <= end]
        if not rows:
            return {"samples": 0}
        totals = [m + c for _, m, c, _ in rows]
        peak = max(range(len(rows)), key=lambda i: totals[i])
        return {
            "samples": len(rows),
            "peak_mb": round(totals[peak] / MB, 1),
            "peak_main_mb": round(max(m for _, m, _, _ in rows) / MB, 1),
            "peak_children_mb": round(max(c for _, _, c, _ in rows) / MB, 1),
            "children_at_peak": rows[peak][3],
            "last_mb": round(totals[-1] / MB, 1),
            "last_main_mb": round(rows[-1][1] / MB, 1),
            "mean_mb": round(sum(totals) / len(totals) / MB, 1),
        }

    def timeline(self, t0: float, step: float = 1.0) -> list[tuple[float, float]]:
        """(seconds since ``t0``, total MB) about every ``step`` seconds, for plots."""
        out: list[tuple[float, float]] = []
        with self._lock:
            rows = list(self.samples)
        for t, m, c, _ in rows:
            if t >= t0 and (not out or t - t0 - out[-1][0] >= step):
                out.append((round(t - t0, 1), round((m + c) / MB, 1)))
        return out


def bare_process_rss(code: str, env: dict[str, str]) -> float:
    """RSS (MB) of ``python -c CODE`` once it has run CODE, sampled a few times (max)."""
    ready = "import sys; sys.stdout.write('ready\\n'); sys.stdout.flush(); sys.stdin.read()"
    proc = subprocess.Popen([sys.executable, "-c", f"{code}\n{ready}"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, env=env, cwd=REPO)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        if proc.stdout.readline().strip() != b"ready":
            raise AssertionError(f"python -c {code!r} failed")
        peak = 0
        for _ in range(5):
            got = tree_rss(proc.pid)
            if got:
                peak = max(peak, got[0] + got[1])
            time.sleep(0.1)
        proc.stdin.close()
        proc.wait(30)
        return round(peak / MB, 1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- the run -------------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--idle-unload", type=float, default=5.0, help="[llm] idle_unload_s in the private config")
    ap.add_argument("--idle-seconds", type=float, default=3.0, help="how long each idle phase is sampled")
    ap.add_argument("--every", type=float, default=0.2, help="sampling interval (s)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (RAGD_HOME, daemon.log)")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out")
    args = ap.parse_args()

    corpus = (args.data / "docs_corpus").resolve()
    tmp = Path(tempfile.mkdtemp(prefix="ragd-memory-")).resolve()
    home, empty = tmp / "home", tmp / "empty"
    home.mkdir()
    empty.mkdir()
    (home / "config.toml").write_text(f"[llm]\nidle_unload_s = {args.idle_unload}\n", encoding="utf-8")

    env = ragd_env(home)
    report: dict[str, Any] = {
        "machine": machine(),
        "params": {"corpus": str(corpus), "questions": list(QUESTIONS), "idle_unload_s": args.idle_unload,
                   "sample_every_s": args.every, "idle_seconds": args.idle_seconds},
        "load_avg_1m": {"start": load_avg()},
    }
    print("baseline: bare interpreters …", flush=True)
    baseline = {"python -c pass": bare_process_rss("pass", env),
                "python -c 'import ragd.daemon.cli'": bare_process_rss("import ragd.daemon.cli", env)}

    daemon = Daemon(home, [empty], RAGD_HISTORY="off")
    sampler = RssSampler(lambda: daemon.proc.pid if daemon.proc is not None else None, args.every).start()
    phases: dict[str, dict[str, Any]] = {}
    flags: dict[str, dict[str, bool]] = {}
    extra: dict[str, Any] = {}
    gguf = ".gguf"
    torch_lib = "libtorch_cpu"

    def settle_idle(name: str) -> None:
        assert daemon.proc is not None
        t0 = time.perf_counter()
        time.sleep(args.idle_seconds)
        phases[name] = sampler.window(t0)
        flags[name] = mapped(daemon.proc.pid, gguf, torch_lib)
        w = phases[name]
        print(f"  {name}: {w.get('last_mb')} MB (daemon {w.get('last_main_mb')} MB; "
              f"LLM mapped: {flags[name][gguf]}, torch loaded: {flags[name][torch_lib]})", flush=True)

    try:
        t_spawn = time.perf_counter()
        daemon.start()
        idle(daemon)
        extra["start_s"] = round(time.perf_counter() - t_spawn, 2)
        phases["peak_during_start"] = sampler.window(t_spawn)
        settle_idle("idle_after_start")

        # indexing the hostile corpus
        print(f"indexing {corpus} …", flush=True)
        t0 = time.perf_counter()
        r = daemon.api().post("/v1/sources", json={"path": str(corpus)})
        r.raise_for_status()
        ticket = int(r.json()["request"])
        wait_until(lambda: daemon.status()["indexing"]["done_through"] >= ticket, 1800, "docs_corpus to be indexed",
                   every=0.2)
        idle(daemon, timeout=600)
        phases["peak_indexing_docs_corpus"] = sampler.window(t0)
        status = daemon.status()
        extra["indexing"] = {"seconds": round(time.perf_counter() - t0, 1), "files": status["files"],
                             "indexed": status["indexed"], "failed": status["failed"], "skipped": status["skipped"],
                             "chunks": status["chunks"],
                             "problems": [f"{p['path'].removeprefix(str(corpus) + '/')}: {p['status']}: {p['reason']}"
                                          for p in status["problems"]]}
        report["load_avg_1m"]["indexing"] = load_avg()
        shown = {k: v for k, v in extra["indexing"].items() if k != "problems"}
        print(f"  peak {phases['peak_indexing_docs_corpus'].get('peak_mb')} MB; {shown}", flush=True)
        t_indexed = time.perf_counter()
        settle_idle("idle_after_indexing")
        # the daemon returns freed heap to the OS once idle (its housekeeping runs every 30 s)
        time.sleep(max(0.0, HOUSEKEEPING_S + 2 - (time.perf_counter() - t_indexed)))
        settle_idle("idle_after_housekeeping")
        time.sleep(max(0.0, 60 - (time.perf_counter() - t_indexed)))  # the measure: 60 s after indexing
        settle_idle("idle_60s_after_indexing")

        # answering
        t0 = time.perf_counter()
        answers: list[dict[str, Any]] = []
        for q in QUESTIONS:
            ta = time.perf_counter()
            r = daemon.api().post("/v1/ask", json={"question": q})
            r.raise_for_status()
            a = r.json()
            answers.append({"question": q, "grounded": a.get("grounded"), "model": a.get("model"),
                            "llm_ran": "first_token" in (a.get("timings") or {}),
                            "seconds": round(time.perf_counter() - ta, 2), "answer": str(a.get("answer"))[:200]})
            print(f"  ask: {q!r} → grounded {a.get('grounded')}, {answers[-1]['seconds']} s", flush=True)
        t_last_answer = time.perf_counter()
        phases["peak_answering"] = sampler.window(t0)
        extra["answers"] = answers
        report["load_avg_1m"]["answering"] = load_avg()
        print(f"  peak {phases['peak_answering'].get('peak_mb')} MB", flush=True)
        settle_idle("idle_with_llm_loaded")

        # the idle unload: wait until the model file is no longer mapped
        proc = daemon.proc
        assert proc is not None
        try:
            wait_until(lambda: not mapped(proc.pid, gguf)[gguf], args.idle_unload + 90, "the LLM to be unloaded",
                       every=0.5)
            extra["unload_seen_after_s"] = round(time.perf_counter() - t_last_answer, 1)
        except AssertionError:
            extra["unload_seen_after_s"] = None
            print("  the LLM was not unloaded in time", flush=True)
        settle_idle("idle_after_llm_unload")
        t_unloaded = time.perf_counter()
        time.sleep(60)  # the measure: 60 s after the LLM is unloaded
        settle_idle("idle_60s_after_llm_unload")
        extra["unload_to_60s_sample_s"] = round(time.perf_counter() - t_unloaded, 1)
        extra["daemon_vmhwm_mb"] = high_water_mb(proc.pid)
        report["load_avg_1m"]["end"] = load_avg()
        report["timeline_mb"] = sampler.timeline(t_spawn)
    except BaseException:
        print(f"--- daemon log tail ---\n{daemon.tail()}", file=sys.stderr)
        raise
    finally:
        sampler.stop()
        shut_down(daemon, report, tmp, args.keep, "RAGD_HOME, daemon.log")

    # report.py reads phases[name]["rss_mb"]: the peak for the busy phases, the settled value for idle ones
    report["phases"] = {
        "bare_python": {"rss_mb": baseline["python -c pass"]},
        "bare_import_ragd_cli": {"rss_mb": baseline["python -c 'import ragd.daemon.cli'"]},
        **{name: {"rss_mb": w.get("peak_mb" if name in BUSY else "last_mb"), **w, **flags.get(name, {})}
           for name, w in phases.items()},
    }
    report["baseline_mb"] = baseline
    report.update(extra)
    idle_start = phases["idle_after_start"].get("last_mb")
    cli = baseline["python -c 'import ragd.daemon.cli'"]
    report["ratios"] = {name: round(float(w["peak_mb" if name in BUSY else "last_mb"]) / cli, 1)
                        for name, w in phases.items() if w.get("samples")}
    report["notes"] = [
        "RSS of the daemon plus its workers (parser, embedding; psutil, sampled every "
        f"{args.every:g} s); shared library pages count once per process.",
        "Busy phases show the peak, idle phases the last sample after "
        f"{args.idle_seconds:g} s of quiet; baseline: a bare `python -c \"import ragd.daemon.cli\"` is "
        f"{cli} MB and the daemon idles at {idle_start} MB right after start (watching an empty folder; the "
        "embedding worker is started at start-up, so that the first save does not wait for it, and exits after "
        "embed_idle_s = 30 s without use, as the parser worker and the Japanese dictionary are let go; the LLM "
        "loads on first use).",
        f"The LLM was unloaded by the idle unload (idle_unload_s = {args.idle_unload:g} s, checked every "
        f"{HOUSEKEEPING_S} s) "
        f"{extra.get('unload_seen_after_s')} s after the last answer (seen as the GGUF file's mapping leaving the "
        "daemon); the default idle_unload_s is 600 s.",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / "memory.json"
    out.write_text(json.dumps(report, indent=1, ensure_ascii=False), encoding="utf-8")
    print_table(report)
    print(f"\nwritten to {out}")


def print_table(r: dict[str, Any]) -> None:
    print("\n| phase | RSS (MB) | daemon (MB) | workers (MB) | LLM mapped | torch loaded |")
    print("|---|---|---|---|---|---|")
    for name, p in r["phases"].items():
        main = p.get("peak_main_mb" if name in BUSY else "last_main_mb")
        kids = p.get("peak_children_mb")
        print(f"| {name.replace('_', ' ')} | {p.get('rss_mb')} | {main if main is not None else '–'} | "
              f"{kids if kids is not None else '–'} | {p.get('.gguf', '–')} | {p.get('libtorch_cpu', '–')} |")
    shown = {k: v for k, v in (r.get("indexing") or {}).items() if k != "problems"}
    print(f"\nindexing: {shown}; daemon VmHWM {r.get('daemon_vmhwm_mb')} MB; "
          f"ratios to the bare CLI import: {r.get('ratios')}")


if __name__ == "__main__":
    main()
