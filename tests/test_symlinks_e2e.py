"""End to end (issue 15, item 4): links planted inside a source must not carry the real daemon outside it.

A real ``ragd serve`` over a folder holding links to a file outside it, to ``/etc/passwd``, to a folder
outside it and to a hidden file inside it: none of their content may be searchable, nor served by
``/v1/documents/context`` or ``/v1/open`` (a harmless opener records what it is asked to open), and a
link planted while the daemon runs (the watcher's path) is refused the same way.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest

from tests.daemon_proc import Daemon, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

GARDEN = "The tomatoes were planted on the ninth of April, beside the fence.\n"
SECRET = "The vault combination is quetzalcoatl seven seven three one.\n"
FOLDER = "The xylophonist rehearses in the basement every Thursday.\n"
HIDDEN = "The platypus key opens the cellar door.\n"
LATE = "The zeppelin hangar lease ends in November.\n"
FRESH = "The marmalade recipe needs bitter Seville oranges.\n"


def _context(daemon: Daemon, path: Path) -> int:
    return daemon.api().get("/v1/documents/context", params={"path": str(path), "line_start": 1}).status_code


def _refused_everywhere(daemon: Daemon, path: Path, opened: Path) -> None:
    assert _context(daemon, path) == 404, path
    assert daemon.api().post("/v1/open", json={"path": str(path)}).status_code == 404, path
    assert not opened.exists(), f"the opener was started for {path}"


def _texts(daemon: Daemon, query: str) -> str:
    return "\n".join(f"{h['path']}: {h['text']}" for h in daemon.search(query, k=10))


def test_links_out_of_a_source_are_neither_indexed_nor_served(tmp_path):
    notes, outside = tmp_path / "notes", tmp_path / "outside"
    (notes / ".hidden").mkdir(parents=True)
    (outside / "dir").mkdir(parents=True)
    (notes / "garden.txt").write_text(GARDEN, encoding="utf-8")
    (notes / ".hidden" / "key.txt").write_text(HIDDEN, encoding="utf-8")
    (outside / "secret.txt").write_text(SECRET, encoding="utf-8")
    (outside / "dir" / "inner.txt").write_text(FOLDER, encoding="utf-8")
    (outside / "late.txt").write_text(LATE, encoding="utf-8")
    os.symlink(outside / "secret.txt", notes / "secret.txt")
    os.symlink("/etc/passwd", notes / "passwd.txt")
    os.symlink(outside / "dir", notes / "linked")
    os.symlink(notes / ".hidden" / "key.txt", notes / "key.txt")
    opened = tmp_path / "opened.txt"
    record = 'printf %s "$1" > "$0"'  # the harmless opener: writes down the path it was given
    opener = f"/bin/sh -c {shlex.quote(record)} {shlex.quote(str(opened))}"
    daemon = Daemon(tmp_path / "home", [notes], RAGD_EMBEDDER="minilm", RAGD_OPENER=opener).start()
    try:
        status = daemon.settled()
        assert status["indexed"] == 1, status["problems"]
        assert daemon.search("When were the tomatoes planted?")[0]["path"] == str(notes / "garden.txt")
        texts = "\n".join(_texts(daemon, q) for q in ("vault combination quetzalcoatl", "root:x:0:0 /bin/bash",
                                                       "xylophonist basement Thursday", "platypus key cellar"))
        for leaked in ("quetzalcoatl", "root:", "xylophonist", "platypus"):
            assert leaked not in texts
        for path in (notes / "secret.txt", notes / "passwd.txt", notes / "linked" / "inner.txt",
                     notes / "key.txt", outside / "secret.txt", Path("/etc/passwd")):
            _refused_everywhere(daemon, path, opened)
        # what was left out is explained in the problems, under the link's own name
        skipped = {p["path"]: p["reason"] for p in status["problems"] if p["status"] == "skipped"}
        assert {str(notes / n) for n in ("secret.txt", "passwd.txt", "linked")} <= set(skipped)
        assert "outside the sources" in skipped[str(notes / "passwd.txt")]

        # a link planted while the daemon runs: the watcher's event is judged by the same rule
        os.symlink(outside / "late.txt", notes / "late.txt")
        (notes / "fresh.txt").write_text(FRESH, encoding="utf-8")  # written after it: once found, the link was seen
        wait_until(lambda: any(h["path"] == str(notes / "fresh.txt") for h in daemon.search("marmalade Seville")),
                   120, "the new file")
        status = daemon.settled()
        assert "zeppelin" not in _texts(daemon, "zeppelin hangar lease November")
        _refused_everywhere(daemon, notes / "late.txt", opened)
        assert str(notes / "late.txt") in {p["path"] for p in status["problems"] if p["status"] == "skipped"}
        assert status["indexed"] == 2
    finally:
        daemon.stop_quietly()
