"""A full scan in slices (``Indexer.run`` with ``Slices``): updates between slices, and which files it removes.

Slices of ``seconds=0`` end after every file, so ``between`` runs after each one, in the walk's order (by name).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ragd.connectors import Entry
from ragd.connectors.files import FilesConnector
from ragd.index.isolate import ParsePool
from ragd.index.pipeline import Indexer, Slices
from ragd.index.store.catalog import Catalog
from ragd.index.store.consistency import verify
from ragd.index.store.embed_cache import EmbeddingCache
from tests.fakes import HashingEmbedder, MemoryVectors

FOLDERS = {"a": 4, "m": 4, "z": 2}  # walked in this order


class Recording:
    """A connector that remembers the last entry its scan yielded (so ``between`` knows where the scan is)."""

    def __init__(self, inner: FilesConnector) -> None:
        self.inner = inner
        self.last: Entry | None = None
        self.yielded = 0

    def scan(self) -> Iterator[Entry]:
        for entry in self.inner.scan():
            self.last = entry
            self.yielded += 1
            yield entry

    def __getattr__(self, name: str) -> Any:  # the rest of the Connector protocol: the inner connector's
        return getattr(self.inner, name)


class World:
    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "docs"
        for folder, n in FOLDERS.items():
            for i in range(n):
                self.write(f"{folder}/n{i}.txt", f"Note {folder}{i} about the {folder}-lake herons number {i}.\n")
        self.catalog = Catalog(tmp / "catalog.sqlite")
        self.vectors = MemoryVectors()
        self.indexer = Indexer(self.catalog, EmbeddingCache(tmp / "cache.sqlite"), self.vectors, HashingEmbedder(),
                               lambda: ParsePool(workers=1, timeout_s=30), chunk_tokens=64)
        self.connector = Recording(FilesConnector(self.root))

    def write(self, rel: str, text: str) -> str:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return str(p)

    def path(self, rel: str) -> str:
        return str(self.root / rel)

    def update(self, *rels: str) -> None:
        self.indexer.update([self.connector], [self.path(r) for r in rels])

    def sliced(self, between: Callable[[], None], files: int = 64):
        return self.indexer.run([self.connector], slices=Slices(between, seconds=0.0, files=files))


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    w.indexer.run([w.connector])
    return w


def test_a_sliced_first_index_equals_one_pass(tmp_path):
    one, sliced = World(tmp_path / "one"), World(tmp_path / "sliced")
    calls = []
    a = one.indexer.run([one.connector])
    b = sliced.sliced(lambda: calls.append(1), files=3)
    total = sum(FOLDERS.values())
    assert (a.files_indexed, b.files_indexed, b.files_removed) == (total, total, 0)
    assert len(calls) == total  # seconds=0: a slice per file
    assert sorted(p.removeprefix(str(sliced.root)) for p in sliced.catalog.files()) == \
        sorted(p.removeprefix(str(one.root)) for p in one.catalog.files())
    assert verify(sliced.catalog, sliced.vectors) == []


def test_a_file_gone_is_removed_only_once_the_whole_scan_missed_it(world):
    gone = world.path("a/n1.txt")
    Path(gone).unlink()
    present = []
    stats = world.sliced(lambda: present.append(world.catalog.file(gone) is not None))
    assert present and all(present)  # never removed while the scan ran
    assert stats.files_removed == 1 and world.catalog.file(gone) is None
    assert stats.files_unchanged == sum(FOLDERS.values()) - 1


def test_changes_applied_between_slices_are_not_undone_by_the_scan(world):
    """A file created in a folder the scan has passed, and a file deleted there, both applied between
    slices: the scan neither removes the new one nor brings back the deleted one."""
    made, deleted = world.path("a/late.txt"), world.path("a/n0.txt")

    def between() -> None:
        if world.connector.last is not None and world.connector.last.path == world.path("m/n0.txt"):
            world.write("a/late.txt", "A late note about kingfishers.\n")
            Path(deleted).unlink()
            world.update("a/late.txt", "a/n0.txt")

    stats = world.sliced(between)
    assert world.catalog.file(made) is not None and world.catalog.file(made).status == "indexed"
    assert world.catalog.file(deleted) is None
    assert stats.files_removed == 0  # the update removed it, not the scan
    assert verify(world.catalog, world.vectors) == []


def test_a_file_deleted_then_made_again_between_slices_is_kept(world):
    """Deleted before the scan reached its folder (so the scan never meets it) and made again after: the
    update that indexed it is newer than the scan's view, so the scan does not remove it."""
    back = world.path("z/n0.txt")

    def between() -> None:
        last = world.connector.last
        if last is not None and last.path == world.path("a/n0.txt"):
            Path(back).unlink()
            world.update("z/n0.txt")
        elif last is not None and last.path == world.path("z/n1.txt"):  # z listed without n0.txt
            world.write("z/n0.txt", "Back again: a note about cormorants.\n")
            world.update("z/n0.txt")

    stats = world.sliced(between)
    assert stats.files_removed == 0
    assert world.catalog.file(back) is not None and world.catalog.file(back).status == "indexed"
    assert verify(world.catalog, world.vectors) == []


def test_a_slice_judges_a_file_by_its_record_now_not_as_the_scan_began(world):
    """Updated between slices to new text, then put back to the old text before the scan meets it: the scan
    compares with the record the update wrote, so it indexes the old text again (not a stat touch-up)."""
    rel = "z/n1.txt"
    old = Path(world.path(rel)).read_text(encoding="utf-8")

    def between() -> None:
        last = world.connector.last
        if last is not None and last.path == world.path("a/n0.txt"):
            world.write(rel, "Entirely different words: pelicans and marsh harriers, a longer note.\n")
            world.update(rel)
            world.write(rel, old)

    stats = world.sliced(between)
    assert stats.files_indexed == 1
    texts = [c.chunk.text for c in world.catalog.iter_chunks() if c.path == world.path(rel)]
    assert texts and "z-lake" in texts[0]
    assert verify(world.catalog, world.vectors) == []


def test_an_update_during_a_forced_scan_does_not_start_another_scan(world):
    world.indexer.settings = replace(world.indexer.settings, max_tokens=80)  # a new signature: all re-indexed
    updates = []

    def between() -> None:
        if not updates:
            updates.append(world.indexer.update([world.connector], [world.path("z/n0.txt")]))

    stats = world.sliced(between)
    assert updates[0].files_indexed == 1 and updates[0].files_unchanged == 0  # just that file
    assert stats.files_indexed == sum(FOLDERS.values())
    assert world.catalog.get_meta("signature") == world.indexer.signature
    assert verify(world.catalog, world.vectors) == []


def test_progress_counts_on_across_slices(tmp_path):
    w = World(tmp_path)
    seen: list[tuple[int, int]] = []
    w.indexer.run([w.connector], progress=lambda d, t, _: seen.append((d, t)),
                  slices=Slices(lambda: None, seconds=60.0, files=3))
    total = sum(FOLDERS.values())
    assert [d for d, _ in seen] == list(range(1, total + 1))
    assert seen[-1] == (total, total)
