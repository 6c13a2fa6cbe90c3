"""The embedding worker's life cycle with the real int8 model: it starts on demand, exits when idle, and a
worker killed mid-batch is replaced with nothing lost or duplicated, alone and under a real daemon."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import threading
from pathlib import Path

import numpy as np
import psutil
import pytest

from ragd.daemon import config as config_mod
from ragd.daemon.server.runtime import Runtime
from ragd.daemon.server.settings import ServerSettings
from ragd.index import embed
from ragd.index.embed.worker import EmbedWorker
from ragd.index.store.consistency import verify
from tests.inprocess import serving, settle, wait_until

pytestmark = pytest.mark.slow

TEXTS = [f"Sentence {i}: the tomatoes in bed {i % 7} were planted on day {i} of the spring." for i in range(240)]


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_starts_on_first_call_and_exits_when_idle() -> None:
    worker = EmbedWorker("minilm", idle_s=0.6)
    try:
        assert worker.pid is None  # nothing started by making it, nor by counting tokens
        assert worker.count_tokens("The tomatoes were planted.") == 5 and worker.pid is None
        vectors = worker.embed_batch(TEXTS[:3])
        pid = worker.pid
        assert pid is not None and pid != os.getpid() and worker.starts == 1
        assert np.allclose(vectors, embed.create("minilm").embed_batch(TEXTS[:3]), atol=1e-6)
        wait_until(lambda: worker.pid is None and _gone(pid), timeout=10, what="the idle worker to exit")
        counter = worker.local
        assert worker.release_counters() and worker.local is not counter  # the tokenizers are let go too
        assert not worker.release_counters()  # nothing counted since
        assert worker.count_tokens("The tomatoes were planted.") == 5
        again = worker.embed_batch(TEXTS[:3])  # a call after the exit starts a new one
        assert worker.starts == 2 and np.allclose(again, vectors, atol=1e-6)
    finally:
        worker.close()


def test_a_worker_killed_mid_batch_is_replaced_and_the_batch_completed() -> None:
    worker = EmbedWorker("minilm", idle_s=0)
    try:
        worker.warm()
        first = worker.pid
        assert first is not None
        box: dict[str, np.ndarray] = {}
        call = threading.Thread(target=lambda: box.update(v=worker.embed_batch(TEXTS)))
        call.start()
        wait_until(lambda: psutil.Process(first).cpu_percent(0.05) > 20, timeout=10, what="the batch to run")
        os.kill(first, signal.SIGKILL)
        call.join(120)
        assert not call.is_alive() and worker.starts == 2 and worker.pid not in (None, first)
        assert box["v"].shape == (len(TEXTS), worker.dim)
        assert np.allclose(box["v"], embed.create("minilm").embed_batch(TEXTS), atol=1e-6)  # whole, in order
    finally:
        worker.close()


def test_a_worker_whose_parent_hangs_up_mid_batch_leaves_quietly(capfd) -> None:
    """ragd stopping mid-batch closes its end of the socket: the worker exits without a broken pipe's
    traceback in the daemon's log (one failed CI's test of a clean SIGTERM)."""
    worker = EmbedWorker("minilm", idle_s=0)
    try:
        worker.warm()
        proc = worker._proc
        assert proc is not None
        proc.conn.send(("embed", "passage", TEXTS, None))
        proc.conn.close()  # the request waits in the worker's end: it embeds the batch, then finds nobody there
        assert proc.proc.wait(timeout=60) == 0
    finally:
        worker.close()
    assert "Traceback" not in capfd.readouterr().err


def _corpus(root: Path, shared_data: Path) -> Path:
    docs = root / "docs"
    docs.mkdir()
    for src in (shared_data / "squad_en/docs/Black_Death.txt", shared_data / "squad_en/docs/Ctenophora.md"):
        paras = [p for p in re.split(r"\n\s*\n", src.read_text(encoding="utf-8")) if p.strip()]
        for i in range(0, len(paras), 2):
            (docs / f"{src.stem}-{i:03d}.txt").write_text("\n\n".join(paras[i : i + 2]), encoding="utf-8")
    return docs


def _files_written(catalog: Path) -> int:
    try:
        with sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM files").fetchone()[0])
    except sqlite3.Error:
        return 0


def _index(home: Path, docs: Path, on_start=None) -> tuple[int, list[list[str]], int]:
    config = config_mod.load({"RAGD_HOME": str(home), "RAGD_EMBEDDER": "minilm"})
    runtime = Runtime(config, {}, settings=ServerSettings(debounce_s=0.05, reconcile_minutes=0))
    runtime.acquire()
    runtime.writes.catalog.add_source(str(docs))
    with serving(runtime) as client:
        if on_start is not None:
            on_start(runtime)
        settle(client)
        hits = [[h["chunk_id"] for h in client.post("/v1/search", json={"query": q, "mode": "dense"}).json()["hits"]]
                for q in ("Which bacterium caused the plague?", "How do comb jellies swim?")]
        problems = verify(runtime.writes.catalog, runtime.writes.vectors)
        starts = runtime.embed_worker.starts if runtime.embed_worker else 0
        assert problems == []
        assert runtime.writes.vectors.count() == runtime.writes.catalog.vector_count()
        files = runtime.writes.catalog.counts()["indexed"]
    return files, hits, starts


def test_the_daemon_loses_and_duplicates_nothing_when_its_worker_is_killed(tmp_path, shared_data) -> None:
    docs = _corpus(tmp_path, shared_data)
    files = len(list(docs.iterdir()))
    _, reference, _ = _index(tmp_path / "calm", docs)

    def kill_mid_index(runtime: Runtime) -> None:
        def killer() -> None:
            worker = runtime.embed_worker
            assert worker is not None
            pid = wait_until(lambda: worker.pid, timeout=120, what="the embedding worker")
            wait_until(lambda: _files_written(runtime.config.catalog_path) >= 3, timeout=120, what="some files written")
            os.kill(pid, signal.SIGKILL)

        threading.Thread(target=killer, daemon=True).start()

    indexed, hits, starts = _index(tmp_path / "killed", docs, kill_mid_index)
    assert starts >= 2  # the killed worker was replaced
    assert indexed == files
    assert hits == reference  # the same vectors as an undisturbed run: nothing half-written, nothing twice
