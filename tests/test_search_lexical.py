"""Lexical search at scale: stop-like terms are skipped by document frequency, within a postings budget,
against a real SQLite FTS5 catalog."""

from __future__ import annotations

import time

import pytest

from ragd.index.models import Chunk
from ragd.index.store import catalog as catalog_module
from ragd.index.store.catalog import Catalog, FileRecord, selective_terms


def add_file(catalog: Catalog, path: str, texts: list[str]) -> list[str]:
    """Store ``texts`` as the chunks of one file; returns their ids."""
    ids = [f"{path}#{i}" for i in range(len(texts))]
    rows = [(cid, f"h{i}", 1, Chunk(text=t, ordinal=i)) for i, (cid, t) in enumerate(zip(ids, texts, strict=True))]
    catalog.replace_file(FileRecord(path, 1, 0, "hash", "indexed", None, len(rows), time.time()), rows)
    return ids


@pytest.fixture
def catalog(tmp_path):
    """100 chunks: every one mentions the river, every other one the bridge; one the zebra, two the otter.
    41 Japanese ones: all mention the river (川), one the tanuki (狸)."""
    c = Catalog(tmp_path / "catalog.sqlite")
    texts = [f"The river flows past mill number {i}." + (" A bridge crosses it." if i % 2 else "")
             for i in range(100)]
    texts[7] = "The river flows past the zebra paddock. A bridge crosses it."
    texts[40] += " An otter swims by."
    texts[41] += " An otter dives under the bridge."
    add_file(c, "/notes/river.txt", texts)
    add_file(c, "/notes/ja.txt", [f"川の流れ {i} 番目の水車。" for i in range(40)] + ["川のそばに狸がいる。"])
    yield c
    c.close()


def test_the_rarest_term_is_kept_and_stop_like_ones_dropped():
    df = {"river": 100, "bridge": 50, "zebra": 1, "otter": 2}
    assert selective_terms(["river", "zebra", "bridge", "otter"], df, 100, common_share=0.2) == ["zebra", "otter"]


def test_terms_stop_at_the_postings_budget_rarest_first():
    df = {"a1": 10, "b2": 30, "c3": 70}
    assert selective_terms(["c3", "b2", "a1"], df, 10_000, postings=45) == ["b2", "a1"]
    assert selective_terms(["c3", "b2", "a1"], df, 10_000, postings=5) == ["a1"]  # the rarest, even over budget


def test_a_query_of_common_terms_keeps_its_rarest_and_absent_terms_are_kept():
    assert selective_terms(["river", "bridge"], {"river": 100, "bridge": 50}, 100) == ["bridge"]
    # absent (count 0): kept, since a count remembered from before a file was indexed must not hide it
    assert selective_terms(["river", "newword"], {"river": 100}, 100) == ["newword"]
    assert selective_terms([], {}, 0) == []


def test_a_very_common_term_is_not_searched(catalog):
    hits = catalog.lexical_search("river zebra", 60)
    # "river" is in every chunk: with it searched, the other 99 chunks would fill the candidates
    assert [cid for cid, _ in hits] == ["/notes/river.txt#7"]


def test_rare_terms_are_all_kept(catalog):
    hits = {cid for cid, _ in catalog.lexical_search("zebra otter river", 60)}
    assert hits == {"/notes/river.txt#7", "/notes/river.txt#40", "/notes/river.txt#41"}


def test_a_query_of_common_terms_still_finds_something_sensible(catalog):
    hits = catalog.lexical_search("river bridge", 10)
    assert len(hits) == 10
    assert all(int(cid.rsplit("#", 1)[1]) % 2 == 1 or cid.endswith("#7") for cid, _ in hits)  # the bridge ones
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)


def test_japanese_stop_like_terms_are_dropped_too(catalog):
    assert [cid for cid, _ in catalog.lexical_search("川の狸", 30)] == ["/notes/ja.txt#40"]


def test_a_term_of_a_file_indexed_after_its_count_was_remembered_is_found(catalog):
    assert catalog.lexical_search("river platypus", 5) == []  # counts remembered: platypus 0
    ids = add_file(catalog, "/notes/new.txt", ["A platypus by the river."])
    assert [cid for cid, _ in catalog.lexical_search("river platypus", 5)] == ids


@pytest.fixture
def counted(monkeypatch):
    """The terms whose chunks are counted, in order."""
    terms: list[str] = []
    real = Catalog._term_frequency

    def spy(self: Catalog, term: str) -> int:
        terms.append(term)
        return real(self, term)

    monkeypatch.setattr(Catalog, "_term_frequency", spy)
    return terms


def test_counts_are_remembered_for_a_while(catalog, counted):
    catalog.lexical_search("river zebra", 5)
    catalog.lexical_search("river otter", 5)
    assert counted == ["river", "zebra", "otter"]


def test_counts_expire(catalog, counted, monkeypatch):
    monkeypatch.setattr(catalog_module, "DF_CACHE_S", 0.0)
    catalog.lexical_search("river zebra", 5)
    catalog.lexical_search("river otter", 5)
    assert counted == ["river", "zebra", "river", "otter"]


def test_a_catalog_without_tables_finds_nothing(tmp_path):
    reader = Catalog(tmp_path / "missing.sqlite", readonly=True)
    assert reader.lexical_search("river", 5) == []
