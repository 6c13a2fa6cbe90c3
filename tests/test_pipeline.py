"""The indexing run through the real seams, with a fake embedder and an in-memory vector store."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ragd.connectors.files import FilesConnector
from ragd.index.isolate import ParsePool
from ragd.index.pipeline import Indexer
from ragd.index.retrieve import Retriever
from ragd.index.store.catalog import Catalog
from ragd.index.store.consistency import verify
from ragd.index.store.embed_cache import EmbeddingCache
from tests.fakes import HashingEmbedder, MemoryVectors

PARAS = {
    "alpha.md": "# Alpha\n\nThe alpaca herd grazes on the high plateau.\n\nAlpacas give soft wool.\n",
    "beta.txt": "Beta file.\n\nThe lighthouse keeper logs every passing ship.\n",
    "notes/gamma.txt": "Gamma notes about volcanoes and basalt columns.\n",
}


class World:
    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "docs"
        for rel, text in PARAS.items():
            self.write(rel, text)
        self.catalog = Catalog(tmp / "catalog.sqlite")
        self.cache = EmbeddingCache(tmp / "cache.sqlite")
        self.vectors = MemoryVectors()
        self.embedder = HashingEmbedder()
        self.indexer = Indexer(self.catalog, self.cache, self.vectors, self.embedder,
                               lambda: ParsePool(workers=1, timeout_s=30), chunk_tokens=64)

    def write(self, rel: str, text: str) -> Path:
        p = self.root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
        return p

    def run(self):
        return self.indexer.run([FilesConnector(self.root)])

    def search(self, q: str, k: int = 3):
        return Retriever(self.catalog, self.vectors, self.embedder).search(q, k)


@pytest.fixture
def world(tmp_path):
    return World(tmp_path)


def test_first_run_indexes_everything_and_stores_agree(world):
    stats = world.run()
    assert (stats.files_indexed, stats.files_failed, stats.files_removed) == (3, 0, 0)
    assert stats.chunks_embedded == stats.chunks_written > 0
    assert verify(world.catalog, world.vectors) == []
    hit = world.search("lighthouse keeper ships")[0]
    assert hit.path == str(world.root / "beta.txt")
    assert (hit.line_start, hit.line_end) == (1, 3)  # two short paragraphs packed into one chunk
    assert hit.text == "Beta file.\n\nThe lighthouse keeper logs every passing ship."


def test_second_run_of_unchanged_tree_parses_and_embeds_nothing(world, monkeypatch):
    world.run()
    calls = world.embedder.calls
    monkeypatch.setattr("ragd.index.items.file_hash", lambda p: pytest.fail("hashed an unchanged file"))
    stats = world.run()
    assert (stats.files_indexed, stats.files_unchanged, stats.chunks_embedded) == (0, 3, 0)
    assert world.embedder.calls == calls


def test_touched_but_identical_file_is_hashed_not_reparsed(world):
    world.run()
    p = world.root / "beta.txt"
    os.utime(p, ns=(p.stat().st_atime_ns, p.stat().st_mtime_ns + 10**9))
    stats = world.run()
    assert (stats.files_indexed, stats.files_unchanged) == (0, 3)
    assert world.catalog.file(str(p)).mtime_ns == p.stat().st_mtime_ns


def test_edit_reembeds_only_the_changed_chunk(world):
    world.run()
    before = world.embedder.texts_embedded
    world.write("alpha.md", "# Alpha\n\nThe alpaca herd grazes on the high plateau.\n\nAlpacas give silky fibre.\n")
    stats = world.run()
    assert stats.files_indexed == 1
    assert world.embedder.texts_embedded - before == stats.chunks_embedded == 1
    assert verify(world.catalog, world.vectors) == []
    assert "silky" in world.search("silky fibre alpacas")[0].text


def test_delete_removes_chunks_from_both_stores(world):
    world.run()
    gone = world.root / "notes" / "gamma.txt"
    ids = world.catalog.vector_ids(str(gone))
    assert ids and set(ids) <= world.vectors.ids()
    gone.unlink()
    stats = world.run()
    assert stats.files_removed == 1
    assert world.catalog.file(str(gone)) is None
    assert not set(ids) & world.vectors.ids()
    assert all(h.path != str(gone) for h in world.search("volcanoes basalt", 5))
    assert world.catalog.lexical_search("volcanoes", 5) == []


def test_rename_keeps_embeddings(world):
    world.run()
    (world.root / "beta.txt").rename(world.root / "beta-renamed.txt")
    stats = world.run()
    assert (stats.files_indexed, stats.files_removed, stats.chunks_embedded) == (1, 1, 0)
    assert world.search("lighthouse keeper")[0].path.endswith("beta-renamed.txt")
    assert verify(world.catalog, world.vectors) == []


def test_failed_and_unsupported_files_are_recorded_and_the_run_goes_on(world):
    world.write("broken.pdf", "this is not a pdf")
    world.write("sheet.numbers", "PK not really")
    stats = world.run()
    assert stats.files_indexed == 3 and stats.files_failed == 1 and stats.files_skipped == 1
    problems = {Path(r.path).name: r for r in world.catalog.problems()}
    assert problems["broken.pdf"].status == "failed" and problems["broken.pdf"].error
    assert problems["sheet.numbers"].status == "skipped" and "unsupported" in problems["sheet.numbers"].error
    again = world.run()  # an unchanged failing file is not retried
    assert again.files_failed == 0 and again.files_indexed == 0


def test_reconcile_repairs_a_damaged_vector_store(world):
    world.run()
    some = sorted(world.vectors.ids())[:2]
    world.vectors.delete(some)
    world.vectors.upsert(["orphan-id"], [world.embedder.embed_batch(["x"])[0]])
    assert verify(world.catalog, world.vectors) != []
    calls = world.embedder.calls
    stats = world.run()
    assert stats.vectors_repaired == 3
    assert world.embedder.calls == calls  # restored from the embedding cache
    assert verify(world.catalog, world.vectors) == []


def test_later_runs_in_one_process_list_vector_ids_only_when_the_counts_disagree(world, monkeypatch):
    world.run()
    listed: list[int] = []
    all_ids = world.vectors.ids
    monkeypatch.setattr(world.vectors, "ids", lambda: listed.append(1) or all_ids())
    world.write("delta.txt", "Delta notes on tidal pools.\n")
    assert world.run().files_indexed == 1
    assert listed == []  # a periodic scan: the counts agree, and listing every id would cost O(index)
    world.vectors.upsert(["orphan-id"], [world.embedder.embed_batch(["x"])[0]])
    assert world.run().vectors_repaired == 1 and listed == [1]
    assert verify(world.catalog, world.vectors) == []


def test_a_new_process_compares_the_stores_id_by_id(world):
    world.run()
    swapped = sorted(world.vectors.ids())[0]
    world.vectors.data["orphan-id"] = world.vectors.data.pop(swapped)  # damaged, with the count unchanged
    assert world.run().vectors_repaired == 0  # the same process only compares counts: not seen yet
    fresh = Indexer(world.catalog, world.cache, world.vectors, world.embedder,
                    lambda: ParsePool(workers=1, timeout_s=30), chunk_tokens=64)
    assert fresh.run([FilesConnector(world.root)]).vectors_repaired == 2  # as after a restart
    assert verify(world.catalog, world.vectors) == []


def test_model_change_reindexes_in_place(world):
    world.run()
    other = HashingEmbedder()
    other.model_id = "test/another-model"
    world.indexer.embedder = other
    stats = world.run()
    assert stats.files_indexed == 3 and stats.chunks_embedded > 0
    assert world.catalog.get_meta("model_id") == "test/another-model"


def test_a_new_token_count_re_chunks_and_an_absent_revision_keeps_the_old_signature(world):
    world.run()
    before = world.indexer.signature
    assert "count=" not in before  # embedders without a revision keep the signature their indexes have
    world.indexer.embedder.token_count_revision = 2  # the embedder now sizes chunks differently
    assert world.indexer.signature == before + "|count=2"
    stats = world.run()
    assert stats.files_indexed == 3  # every file re-chunked, in place
    assert world.catalog.get_meta("signature") == world.indexer.signature
    assert world.run().files_indexed == 0


def test_the_daemons_shared_embedder_signs_the_index_as_the_bare_one_does(world):
    from ragd.daemon.server.runtime import SharedEmbedder

    world.indexer.embedder.token_count_revision = 2
    bare = world.indexer.signature
    world.indexer.embedder = SharedEmbedder(world.indexer.embedder)
    assert world.indexer.signature == bare  # else the daemon and `ragd index` would re-chunk each other's index
