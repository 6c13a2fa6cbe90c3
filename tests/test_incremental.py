"""What the daemon's writer does for watcher events: ``Indexer.update`` on files and folders, and the
connector's single-path lookups it relies on (real files, real parser pool, fake embedder)."""

from __future__ import annotations

import os

import pytest

from ragd.connectors.files import FileFilter, FilesConnector
from ragd.index.store.consistency import verify
from tests.test_pipeline import World


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    w.run()
    return w


def update(world, *paths):
    return world.indexer.update([FilesConnector(world.root)], [str(p) for p in paths])


def test_new_file_is_indexed_alone(world):
    path = world.write("new.txt", "The zeppelin hangar smells of varnish.\n")
    stats = update(world, path)
    assert (stats.files_indexed, stats.files_unchanged, stats.files_removed) == (1, 0, 0)
    assert world.search("zeppelin hangar")[0].path == str(path)
    assert verify(world.catalog, world.vectors) == []


def test_edit_replaces_the_old_text(world):
    path = world.root / "beta.txt"
    path.write_text("Beta file.\n\nThe lighthouse is now a museum of clocks.\n", encoding="utf-8")
    stats = update(world, path)
    assert stats.files_indexed == 1
    texts = " ".join(h.text for h in world.search("lighthouse", 5))
    assert "museum of clocks" in texts and "passing ship" not in texts


def test_delete_removes_the_file_and_its_vectors(world):
    path = world.root / "beta.txt"
    before = world.vectors.count()
    path.unlink()
    stats = update(world, path)
    assert stats.files_removed == 1
    assert str(path) not in world.catalog.files()
    assert world.vectors.count() < before
    assert verify(world.catalog, world.vectors) == []


def test_rename_embeds_nothing(world):
    old = world.root / "alpha.md"
    new = world.root / "renamed-alpha.md"
    os.rename(old, new)
    stats = update(world, old, new)
    assert (stats.files_removed, stats.files_indexed, stats.chunks_embedded, stats.vectors_embedded) == (1, 1, 0, 0)
    assert world.search("alpaca herd plateau")[0].path == str(new)


def test_folder_moves_and_deletes(world):
    world.write("notes/delta.txt", "Delta notes on tidal estuaries.\n")
    update(world, world.root / "notes")
    moved = world.root / "archive"
    os.rename(world.root / "notes", moved)
    stats = update(world, world.root / "notes", moved)
    assert (stats.files_removed, stats.files_indexed, stats.chunks_embedded) == (2, 2, 0)
    assert {p for p in world.catalog.files() if "/archive/" in p} == {str(moved / "gamma.txt"),
                                                                       str(moved / "delta.txt")}
    for p in moved.iterdir():
        p.unlink()
    moved.rmdir()
    stats = update(world, moved)
    assert stats.files_removed == 2
    assert not [p for p in world.catalog.files() if "/archive/" in p]
    assert verify(world.catalog, world.vectors) == []


def test_ignored_and_outside_paths_change_nothing(world, tmp_path):
    hidden = world.write(".secret.txt", "hidden words\n")
    temp = world.write("draft.txt.swp", "swap file\n")
    (world.root / ".gitignore").write_text("build/\n", encoding="utf-8")
    built = world.write("build/out.txt", "generated output\n")
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("not a source\n", encoding="utf-8")
    before = dict(world.catalog.files())
    stats = update(world, hidden, temp, built, world.root / "build", outside)
    assert stats.files_indexed == stats.files_removed == 0
    assert world.catalog.files() == before


def test_a_file_that_becomes_ignored_is_dropped(world):
    (world.root / ".ragdignore").write_text("beta.txt\n", encoding="utf-8")
    stats = update(world, world.root / "beta.txt")
    assert stats.files_removed == 1


def test_drop_forgets_a_removed_source_but_keeps_what_another_covers(world):
    notes = str(world.root / "notes")
    assert world.indexer.drop(notes, keep=[FilesConnector(notes)]) == 0
    assert world.indexer.drop(notes, keep=[]) == 1
    assert not world.catalog.files_under(notes)
    assert world.catalog.files_under(str(world.root))


def test_connector_entry_and_scan_under_agree_with_scan(tmp_path):
    root = tmp_path / "src"
    for rel in ["a.txt", "sub/b.md", "sub/deep/c.txt", ".hidden/d.txt", "node_modules/e.txt", "sub/skip.log"]:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x\n", encoding="utf-8")
    (root / "sub" / ".gitignore").write_text("*.log\n", encoding="utf-8")
    conn = FilesConnector(root, FileFilter(exclude=["deep/"]))
    everything = {e.path for e in conn.scan()}
    assert everything == {str(root / "a.txt"), str(root / "sub/b.md")}
    for rel in ["a.txt", "sub/b.md", "sub/deep/c.txt", ".hidden/d.txt", "node_modules/e.txt", "sub/skip.log",
                "missing.txt"]:
        found = conn.entry(str(root / rel))
        assert (found is not None) == (str(root / rel) in everything), rel
    assert {e.path for e in conn.scan_under(str(root / "sub"))} == {str(root / "sub/b.md")}
    assert list(conn.scan_under(str(root / "sub/deep"))) == []
    assert list(conn.scan_under(str(root / ".hidden"))) == []
    assert conn.entry(str(tmp_path / "other.txt")) is None
