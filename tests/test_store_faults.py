"""Stores that fail: a full disk and damaged files, on the real Runtime (writer thread, watcher, SQLite
catalog, REST routes) with a fake embedder and vector store through their seams. The same faults on the
real daemon with the real Chroma are in test_store_faults_e2e.py."""

from __future__ import annotations

import errno
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ragd.daemon import config as config_mod
from ragd.daemon.server.changes import Batch, ChangeQueue
from ragd.daemon.server.runtime import Runtime
from ragd.daemon.server.settings import ServerSettings
from ragd.index.store.health import catalog_problem, is_corruption
from ragd.index.store.space import MB, OutOfSpace, SpaceGuard
from tests.fakes import HashingEmbedder, MemoryVectors, ScriptedLLM
from tests.inprocess import serving, settle, wait_until


@dataclass(frozen=True)
class DialGuard(SpaceGuard):
    """A SpaceGuard whose free space the test sets (the real one reads statvfs)."""

    dial: dict[str, int] = field(default_factory=lambda: {"free": 10**12})

    def free(self) -> int:
        return self.dial["free"]


@pytest.fixture
def daemon(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "garden.txt").write_text("The tomatoes were planted on the ninth of April.\n", encoding="utf-8")
    config = config_mod.load({"RAGD_HOME": str(tmp_path / "home")})
    runtime = Runtime(config, {}, settings=ServerSettings(debounce_s=0.05, reconcile_minutes=0),
                      embedder=HashingEmbedder(), vectors=MemoryVectors(), llm=ScriptedLLM("x"))
    guard = DialGuard(config.data_dir, 64 * MB)
    runtime.writer.space = runtime.writes.indexer.space = guard
    runtime.writes.catalog.add_source(str(docs))
    with serving(runtime) as client:
        yield client, runtime, docs, guard


def found(client, words):
    return [h["path"] for h in client.post("/v1/search", json={"query": words, "mode": "lexical"}).json()["hits"]]


# -- a full disk --------------------------------------------------------------------------------------
def test_a_full_disk_stops_indexing_says_so_keeps_searching_and_resumes_by_itself(daemon):
    client, _, docs, guard = daemon
    settle(client)
    guard.dial["free"] = 10 * MB  # below the 64 MB reserve
    for i in range(5):
        (docs / f"note{i}.txt").write_text(f"Walrus colony census number {i}.\n", encoding="utf-8")
    status = wait_until(lambda: (s := client.get("/v1/status").json())["indexing"]["state"] == "out_of_space" and s,
                        what="the out-of-space state")
    problem = status["problems"][0]
    assert problem["status"] == "out_of_space" and "10 MB free" in problem["reason"] and "64 MB" in problem["reason"]
    assert "resumes by itself" in problem["reason"]
    assert status["indexing"]["out_of_space"]["needed_bytes"] == 64 * MB
    assert client.get("/healthz").status_code == 200
    assert found(client, "tomatoes planted") == [str(docs / "garden.txt")]  # what is indexed still answers
    time.sleep(0.5)
    assert found(client, "walrus colony") == []  # nothing half-written
    assert client.get("/v1/status").json()["indexing"]["queued"] >= 1  # the changes wait, they are not dropped
    guard.dial["free"] = 100 * MB
    wait_until(lambda: len(found(client, "walrus colony census")) == 5, what="indexing to resume by itself")
    status = client.get("/v1/status").json()
    assert status["indexing"]["out_of_space"] is None and status["indexing"]["state"] != "out_of_space"
    assert all(p["status"] != "out_of_space" for p in status["problems"])
    assert client.get("/v1/verify").json() == {"ok": True, "problems": []}


def test_a_store_that_fails_for_lack_of_space_is_the_same_state(daemon, monkeypatch):
    """The disk fills between the check and the write: the store's own ENOSPC error counts as out of space."""
    client, runtime, docs, _ = daemon
    settle(client)
    vectors = runtime.writes.vectors
    real_upsert = vectors.upsert
    failing = {"on": True}

    def upsert(ids, vecs):
        if failing["on"]:
            raise OSError(errno.ENOSPC, "No space left on device")
        real_upsert(ids, vecs)

    monkeypatch.setattr(vectors, "upsert", upsert)
    (docs / "late.txt").write_text("A note on harbour cranes.\n", encoding="utf-8")
    wait_until(lambda: client.get("/v1/status").json()["indexing"]["state"] == "out_of_space", what="the state")
    assert client.get("/v1/status").json()["indexing"]["last_error"] is None  # a state, not a failure
    failing["on"] = False
    wait_until(lambda: found(client, "harbour cranes") == [str(docs / "late.txt")], what="the retry")
    assert client.get("/v1/verify").json()["ok"] is True


def test_a_retried_batch_keeps_its_request_number():
    queue = ChangeQueue(debounce_s=0.0)
    ticket = queue.add(["/a"])
    batch = queue.take(timeout=1)
    assert batch is not None and batch.paths == ["/a"]
    queue.retry(batch)
    queue.done()
    assert queue.done_through() < ticket  # not written yet, so `ragd index` keeps waiting for it
    again = queue.take(timeout=1)
    assert again is not None and again.paths == ["/a"] and again.first_seq == ticket
    queue.done()
    assert queue.done_through() >= ticket
    scan = Batch(full_scan=True, first_seq=queue.request_full_scan())
    assert queue.take(timeout=1) is not None
    queue.retry(scan)
    queue.done()
    assert queue.done_through() < scan.first_seq


def test_space_guard_reads_a_full_disk_from_each_stores_words(tmp_path):
    guard = SpaceGuard(tmp_path, reserve=0)
    assert guard.free() > 0
    guard.check()
    assert guard.explains(OSError(errno.ENOSPC, "No space left on device")) is not None
    full = sqlite3.OperationalError("database or disk is full")
    assert guard.explains(full) is not None
    assert guard.explains(ValueError("something else")) is None
    chroma_like = RuntimeError("Error in compaction: Failed to apply logs to the metadata segment")
    assert guard.explains(chroma_like) is None  # names no cause: only counts when the disk is short
    short = SpaceGuard(tmp_path, reserve=guard.free() * 2)
    assert isinstance(short.explains(chroma_like), OutOfSpace)
    with pytest.raises(OutOfSpace, match="min_free_mb"):
        short.check()
    missing = SpaceGuard(tmp_path / "not" / "yet", reserve=0)  # a data folder not made yet: its parent's disk
    assert missing.free() > 0


# -- damaged stores -----------------------------------------------------------------------------------
def _garble(path: Path, at: int, size: int = 4096) -> None:
    with open(path, "r+b") as f:
        f.seek(at)
        f.write(b"\xa5" * size)


def test_a_catalog_damaged_while_running_is_answered_as_503_then_rebuilt(daemon):
    client, runtime, docs, _ = daemon
    for i in range(40):
        (docs / f"n{i}.txt").write_text(f"Lighthouse keeper log {i}: " + "waves and gulls. " * 200, encoding="utf-8")
    settle(client)
    assert len(found(client, "lighthouse keeper")) == 5
    (runtime.config.data_dir / "history.sqlite").write_bytes(b"")  # kept as it is by the repair
    with sqlite3.connect(runtime.config.catalog_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = runtime.config.catalog_path.stat().st_size
    _garble(runtime.config.catalog_path, size // 3, size // 3)  # the pages in the middle: chunks and terms
    assert catalog_problem(runtime.config.catalog_path) is not None
    r = client.post("/v1/search", json={"query": "lighthouse keeper gulls", "mode": "lexical"})
    if r.status_code == 503:  # the damage was met: said so, with the usual JSON error
        assert "damaged" in r.json()["error"]["message"]
    else:  # the query missed the damaged pages; the periodic check finds it
        runtime.reconcile()
    wait_until(lambda: any(p["status"] == "repaired" for p in client.get("/v1/status").json()["problems"]),
               what="the repair")
    wait_until(lambda: len(found(client, "lighthouse keeper")) == 5, what="the re-index")
    status = settle(client)
    assert status["indexed"] == 41
    repaired = next(p for p in status["problems"] if p["status"] == "repaired")
    assert ".damaged-" in repaired["path"] and Path(repaired["path"]).exists()
    assert (runtime.config.data_dir / "history.sqlite").exists()
    assert catalog_problem(runtime.config.catalog_path) is None
    assert client.get("/v1/verify").json() == {"ok": True, "problems": []}


def test_a_vector_store_that_fails_queries_is_searched_lexically_and_rebuilt(daemon, monkeypatch):
    client, runtime, docs, _ = daemon
    settle(client)
    vectors = runtime.writes.vectors.inner  # inside the watchdog's wrapper
    real_query = vectors.query
    broken = {"on": True}

    def query(vector, k):
        if broken["on"]:
            raise RuntimeError("Error constructing hnsw segment reader: Error loading hnsw index")
        return real_query(vector, k)

    monkeypatch.setattr(vectors, "query", query)
    before = vectors.count()
    reset = vectors.reset

    def reset_and_heal():
        broken["on"] = False
        reset()

    monkeypatch.setattr(vectors, "reset", reset_and_heal)
    r = client.post("/v1/search", json={"query": "tomatoes planted", "mode": "hybrid"})
    assert r.status_code == 200 and r.json()["hits"][0]["path"] == str(docs / "garden.txt")  # lexical carried it
    wait_until(lambda: any(p["status"] == "repaired" and "vector store" in p["reason"]
                           for p in client.get("/v1/status").json()["problems"]), what="the vector store's repair")
    assert vectors.count() == before  # every vector put back from the catalog and the cache
    assert client.get("/v1/verify").json()["ok"] is True


def test_repair_through_the_api_on_sound_stores_changes_nothing(daemon):
    client, _, _, _ = daemon
    settle(client)
    r = client.post("/v1/repair")
    assert r.status_code == 200 and r.json()["repairs"] == []
    assert client.get("/v1/verify").json()["ok"] is True


def test_corruption_is_told_from_other_sqlite_errors(tmp_path):
    assert is_corruption(sqlite3.DatabaseError("database disk image is malformed"))
    assert is_corruption(sqlite3.DatabaseError("file is not a database"))
    assert not is_corruption(sqlite3.OperationalError("database is locked"))
    assert not is_corruption(sqlite3.OperationalError("database or disk is full"))
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not a database at all" * 200)
    assert "not a database" in (catalog_problem(bad) or "")
    assert catalog_problem(tmp_path / "absent.sqlite") is None
