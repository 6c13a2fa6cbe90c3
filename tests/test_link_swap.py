"""An indexed file replaced by a link out of the sources is not served, even before the index hears of it
(the real Runtime and REST routes; the writer is paused so the catalog still lists the file)."""

from __future__ import annotations

import shlex
import time

from ragd.daemon import config as config_mod
from ragd.daemon.server.runtime import Runtime
from ragd.daemon.server.settings import ServerSettings
from tests.fakes import HashingEmbedder, MemoryVectors, ScriptedLLM
from tests.inprocess import serving


def test_a_file_swapped_for_a_link_outside_is_neither_read_nor_opened(tmp_path):
    docs, outside = tmp_path / "docs", tmp_path / "outside"
    docs.mkdir()
    outside.mkdir()
    note = docs / "note.txt"
    note.write_text("The ferry leaves at noon.\n", encoding="utf-8")
    (outside / "secret.txt").write_text("The vault code is 4711.\n", encoding="utf-8")
    opened = tmp_path / "opened"
    record = 'printf %s "$1" > "$0"'  # a harmless opener: writes down the path it was given
    opener = f"/bin/sh -c {shlex.quote(record)} {shlex.quote(str(opened))}"
    config = config_mod.load({"RAGD_HOME": str(tmp_path / "home")})
    runtime = Runtime(config, {"RAGD_OPENER": opener}, settings=ServerSettings(debounce_s=0.05, reconcile_minutes=0),
                      embedder=HashingEmbedder(), vectors=MemoryVectors(), llm=ScriptedLLM("x"))
    runtime.writes.catalog.add_source(str(docs))
    with serving(runtime) as client:
        end = time.monotonic() + 30
        while client.get("/v1/documents", params={"path": str(note)}).status_code != 200:
            assert time.monotonic() < end, "not indexed"
            time.sleep(0.05)
        context = {"path": str(note), "line_start": 1, "line_end": 1}
        assert client.get("/v1/documents/context", params=context).status_code == 200
        client.post("/v1/pause")
        note.unlink()
        note.symlink_to(outside / "secret.txt")
        r = client.get("/v1/documents/context", params=context)
        assert r.status_code == 404 and "4711" not in r.text
        assert client.post("/v1/open", json={"path": str(note)}).status_code == 404
        time.sleep(0.3)
        assert not opened.exists()
