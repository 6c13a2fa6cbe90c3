"""Issue 15, item 7: a folder inside a source that cannot be read shows in ``GET /v1/status`` problems.

The tests run as root, and root reads a ``chmod 000`` folder; so here the real Runtime (writer thread,
watcher, SQLite catalog; fake embedder and vector store) meets a ``PermissionError`` from ``os.scandir``
injected for one folder. That the real syscall's error reaches the same record is tested on the
connector as another user (tests/test_files_connector.py, test_an_unreadable_folder_is_recorded_...).
"""

from __future__ import annotations

import os
import time

import pytest
from starlette.testclient import TestClient

from ragd.daemon import config as config_mod
from ragd.daemon.server.app import create_app
from ragd.daemon.server.runtime import Runtime
from ragd.daemon.server.settings import ServerSettings
from ragd.daemon.tray.view import view_of
from tests.fakes import HashingEmbedder, MemoryVectors, ScriptedLLM

TOKEN = "k" * 43


@pytest.fixture
def daemon(tmp_path):
    docs = tmp_path / "docs"
    (docs / "locked").mkdir(parents=True)
    (docs / "ok.txt").write_text("The tomatoes were planted in April.\n", encoding="utf-8")
    (docs / "locked" / "inside.txt").write_text("Hidden by permissions.\n", encoding="utf-8")
    config = config_mod.load({"RAGD_HOME": str(tmp_path / "home")})
    runtime = Runtime(config, {}, settings=ServerSettings(debounce_s=0.05, reconcile_minutes=0),
                      embedder=HashingEmbedder(), vectors=MemoryVectors(), llm=ScriptedLLM("-"))
    runtime.acquire()
    runtime.writes.catalog.add_source(str(docs))
    app = create_app(runtime, TOKEN, 8765, start=runtime.start, stop=runtime.stop)
    with TestClient(app, base_url="http://127.0.0.1:8765", headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client, docs


def _full_scan(client: TestClient) -> dict:
    ticket = client.post("/v1/reindex").json()["request"]
    end = time.monotonic() + 30
    while time.monotonic() < end:
        status = client.get("/v1/status").json()
        if status["indexing"]["done_through"] >= ticket:
            return dict(status)
        time.sleep(0.02)
    raise AssertionError("the full scan did not finish")


def test_an_unreadable_folder_is_a_problem_until_it_is_readable_again(daemon, monkeypatch):
    client, docs = daemon
    locked = docs / "locked"
    real_scandir = os.scandir

    def scandir(path):  # what a chmod 000 folder does to anyone but root
        if os.fspath(path) == str(locked):
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    status = _full_scan(client)
    expected = {"path": str(locked), "status": "unreadable", "reason": "permission denied"}
    assert expected in status["problems"] and status["problems_total"] == len(status["problems"])
    assert status["indexed"] == 1
    assert any("locked: unreadable, permission denied" in line for line in view_of(status).problems)

    monkeypatch.setattr(os, "scandir", real_scandir)
    status = _full_scan(client)
    assert status["problems"] == [] and status["indexed"] == 2
