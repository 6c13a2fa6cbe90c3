"""A change applied during a scan: the real Runtime in process (writer thread, watchdog observer, change queue),
with a scan of many slices. Halfway through the scan a file is deleted and another saved; both are applied
between two of the scan's slices, before the scan ends."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

from ragd.connectors import Connector, Entry
from ragd.daemon import config as config_mod
from ragd.daemon.server.changes import Batch
from ragd.daemon.server.runtime import Runtime
from ragd.daemon.server.settings import ServerSettings
from tests.fakes import HashingEmbedder, MemoryVectors, ScriptedLLM
from tests.inprocess import serving, settle, wait_until

FILES = 60


class Interrupting:
    """A source whose scan, at its ``at``-th file, makes the changes (``act``) and waits until the watcher
    has queued them, as if someone saved and deleted while the scan walked."""

    def __init__(self, inner: Connector, at: int, act: threading.Event, queued: threading.Event) -> None:
        self.inner = inner
        self.at = at
        self.act = act
        self.queued = queued
        self.yielded = 0

    def scan(self) -> Iterator[Entry]:
        for entry in self.inner.scan():
            if self.yielded == self.at:
                self.act.set()
                assert self.queued.wait(30), "the watcher never reported the changes"
            self.yielded += 1
            yield entry

    def __getattr__(self, name: str) -> Any:  # the rest of the Connector protocol: the inner connector's
        return getattr(self.inner, name)


def test_a_change_applied_during_a_scan(tmp_path):
    docs = tmp_path / "docs"
    for i in range(FILES):
        note = docs / f"f{i % 6}" / f"note-{i:02d}.txt"
        note.parent.mkdir(parents=True, exist_ok=True)
        note.write_text(f"Note {i}: the heron count at pond {i} was recorded.\n", encoding="utf-8")
    doomed, saved = docs / "f5" / "note-59.txt", docs / "f0" / "fresh.txt"  # the last folder; one already walked
    batches: list[tuple[Batch, int]] = []
    config = config_mod.load({"RAGD_HOME": str(tmp_path / "home")})
    runtime = Runtime(config, {}, settings=ServerSettings(debounce_s=0.0, reconcile_minutes=0),
                      embedder=HashingEmbedder(), vectors=MemoryVectors(), llm=ScriptedLLM("x"),
                      on_batch=lambda b, s: batches.append((b, scanning.yielded if scanning else -1)))
    scanning: Interrupting | None = None
    runtime.writes.catalog.add_source(str(docs))
    with serving(runtime) as client:
        settle(client)
        assert client.get("/v1/status").json()["indexed"] == FILES
        act, queued = threading.Event(), threading.Event()
        scanning = Interrupting(runtime.connectors()[0], FILES // 2, act, queued)
        runtime.writer.connectors = lambda: [scanning]
        runtime.writer.slice_s = 0.0  # a slice per file: the writer looks at the queue after each one
        batches.clear()
        client.post("/v1/reindex", json={"paths": []})
        assert act.wait(30)
        doomed.unlink()
        saved.write_text("Fresh note: a bittern boomed in the reeds.\n", encoding="utf-8")
        wait_until(lambda: runtime.queue.pending() >= 2, what="the watcher to queue the delete and the save")
        queued.set()
        wait_until(lambda: any(b.full_scan for b, _ in batches), what="the scan to end")
        done = list(batches)
        files = {f["path"]: f["status"] for f in client.get("/v1/files", params={"limit": 500}).json()["files"]}

    scan_at = next(i for i, (b, _) in enumerate(done) if b.full_scan)
    walked = done[scan_at][1]  # files the scan met in all
    for path in (doomed, saved):  # each applied, and reported, while the scan still had files to walk
        i = next(i for i, (b, _) in enumerate(done) if str(path) in b.paths)
        assert i < scan_at and FILES // 2 <= done[i][1] < walked
    assert str(doomed) not in files and files[str(saved)] == "indexed" and len(files) == FILES
