"""A store call that never returns: the daemon keeps answering while its writer is stuck, stops when asked,
and a call stuck in native code with Python's lock held ends the process (the service manager restarts it)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import time

from ragd.daemon import config as config_mod
from ragd.daemon.server.runtime import Runtime
from ragd.daemon.server.settings import ServerSettings
from tests.fakes import HashingEmbedder, MemoryVectors, ScriptedLLM
from tests.helpers import REPO
from tests.inprocess import serving, wait_until


class StuckVectors(MemoryVectors):
    """Writes block until released (as Chroma's upsert did after a full disk); reads still work."""

    def __init__(self) -> None:
        super().__init__()
        self.stuck = threading.Event()
        self.release = threading.Event()
        self.block = False

    def upsert(self, ids, vectors):
        if self.block:
            self.stuck.set()
            self.release.wait(60)
        super().upsert(ids, vectors)


def test_a_writer_stuck_in_the_store_leaves_the_api_answering_and_stop_bounded(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("Notes on the glacier walk.\n", encoding="utf-8")
    vectors = StuckVectors()
    config = config_mod.load({"RAGD_HOME": str(tmp_path / "home")})
    runtime = Runtime(config, {}, settings=ServerSettings(debounce_s=0.05, reconcile_minutes=0),
                      embedder=HashingEmbedder(), vectors=vectors, llm=ScriptedLLM("x"))
    runtime.stop_timeout_s = 1.0
    runtime.writes.catalog.add_source(str(docs))
    try:
        with serving(runtime) as c:
            wait_until(lambda: c.get("/v1/status").json()["indexed"] == 1, what="the first file")
            vectors.block = True
            (docs / "b.txt").write_text("A second note about the fjord ferry.\n", encoding="utf-8")
            assert vectors.stuck.wait(30), "the writer never reached the store"
            started = time.monotonic()
            assert c.get("/healthz").status_code == 200
            status = c.get("/v1/status").json()
            assert status["indexing"]["state"] == "indexing"
            hits = c.post("/v1/search", json={"query": "glacier walk", "mode": "lexical"}).json()["hits"]
            assert [h["path"] for h in hits] == [str(docs / "a.txt")]
            assert time.monotonic() - started < 5
            stopping = time.monotonic()
        assert time.monotonic() - stopping < 15  # the lifespan's stop did not wait for the stuck writer
        assert runtime.writer.alive
    finally:
        vectors.release.set()


HUNG = textwrap.dedent("""
    import ctypes, sys, time
    from ragd.daemon.server.store_watchdog import WatchedVectors
    from tests.fakes import MemoryVectors

    class Hung(MemoryVectors):
        def upsert(self, ids, vectors):
            ctypes.PyDLL(None).sleep(60)  # native code that keeps Python's lock: no other thread can run

    store = WatchedVectors(Hung(), limit_s=float(sys.argv[1]))
    store.count()  # a call that returns disarms its deadline
    time.sleep(float(sys.argv[1]) + 1)
    print("still alive", flush=True)
    store.upsert(["a"], [[1.0]])
    print("not reached", flush=True)
""")


def test_a_store_call_stuck_with_the_gil_ends_the_process_with_its_stack():
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", HUNG, "1"], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert time.monotonic() - started < 30  # not the 60 s of the hung call
    assert done.returncode == 1
    assert "still alive" in done.stdout and "not reached" not in done.stdout
    assert "Timeout" in done.stderr and "upsert" in done.stderr  # every thread's stack, for the log
