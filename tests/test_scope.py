"""Scoped search over a real SQLite catalog and a real chromadb collection: the scope is pushed into both
sides, so a match that ranks far below the unfiltered top 100 is found when the scope names its place."""

from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path

import pytest

from ragd.index.models import Chunk
from ragd.index.retrieve import FusionSettings, Retriever
from ragd.index.scope import Scope, ScopeError, parse_types, parse_when, scope_of
from ragd.index.store.catalog import Catalog, FileRecord, unit_ids
from ragd.index.store.vectors import ChromaVectors
from tests.fakes import HashingEmbedder

NOW = time.time()
OLD = datetime(2021, 6, 1).timestamp()
GARDEN = "Tomato seedlings were planted in the garden bed {i} after the last frost, and the seedlings were watered."
RECEIPT = "Receipt for seedlings bought at the market, kept for the tax return."


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scope")
    embedder = HashingEmbedder()
    catalog = Catalog(tmp / "catalog.sqlite")
    vectors = ChromaVectors.persistent(tmp / "chroma", embedder.model_id)
    files = [(f"/notes/garden/bed{i:03}.md", GARDEN.format(i=i), NOW) for i in range(240)]
    files.append(("/notes/taxes/2024/receipt.txt", RECEIPT, OLD))
    for n, (path, text, mtime) in enumerate(files):
        cid = f"c{n}"
        catalog.replace_file(FileRecord(path, len(text), int(mtime * 1e9), f"h{n}", "indexed", None, 1, NOW),
                             [(cid, f"e{n}", 1, Chunk(text=text, ordinal=0))])
        vectors.upsert(unit_ids(cid, 1), list(embedder.embed_batch([text])))
    yield catalog, vectors, embedder
    catalog.close()


def _paths(hits):
    return [h.path for h in hits]


@pytest.mark.parametrize("mode", ["hybrid", "dense", "lexical"])
def test_a_scoped_search_finds_what_ranks_below_the_unfiltered_top_100(stores, mode):
    catalog, vectors, embedder = stores
    retriever = Retriever(catalog, vectors, embedder)
    query = "when were the tomato seedlings planted"
    unfiltered = _paths(retriever.search(query, 100, mode))
    assert len(unfiltered) == 100 and "/notes/taxes/2024/receipt.txt" not in unfiltered
    for scope in (Scope(within=("/notes/taxes",)), Scope(within=("taxes",)), Scope(within=("*/2024/*",)),
                  Scope(types=("txt",)), Scope(until=datetime(2022, 1, 1).timestamp())):
        hits = retriever.search(query, 5, mode, scope)
        assert _paths(hits) == ["/notes/taxes/2024/receipt.txt"], scope


def test_both_sides_are_scoped_not_post_filtered(stores):
    catalog, vectors, embedder = stores
    scope = Scope(within=("/notes/taxes",))
    assert [cid for cid, _ in catalog.lexical_search("seedlings", 5, scope)] == ["c240"]
    assert catalog.scope_units(scope, 10) == ["c240.0"]
    # a scope wider than the id limit is searched whole, with more fetched, and filtered
    wide = Retriever(catalog, vectors, embedder, FusionSettings(scope_ids=10))
    hits = wide.search("seedlings planted garden", 5, "dense", Scope(types=("md",)))
    assert len(hits) == 5 and all(h.path.endswith(".md") for h in hits)


def test_a_folder_whose_name_looks_like_a_glob_is_taken_as_it_is(tmp_path):
    folder = tmp_path / "Photos [2020]"
    folder.mkdir()
    catalog = Catalog(tmp_path / "catalog.sqlite")
    text = "The harbour at dawn."
    for n, path in enumerate([str(folder / "a.txt"), str(tmp_path / "Photos 2" / "b.txt")]):
        catalog.replace_file(FileRecord(path, 1, 0, f"h{n}", "indexed", None, 1, NOW),
                             [(f"c{n}", f"e{n}", 1, Chunk(text=text, ordinal=0))])
    assert catalog.scope_chunk_ids(Scope(within=(str(folder),))) == {"c0"}  # a.txt's one chunk
    assert catalog.scope_chunk_ids(Scope(within=("/",))) == {"c0", "c1"}
    catalog.close()


def test_a_scope_that_holds_nothing_finds_nothing(stores):
    catalog, vectors, embedder = stores
    retriever = Retriever(catalog, vectors, embedder)
    assert retriever.search("seedlings", 5, "hybrid", Scope(types=("pdf",))) == []
    assert retriever.search("seedlings", 5, "hybrid", Scope(since=NOW + 3600)) == []


def test_dates_types_and_places_as_people_type_them():
    now = datetime(2024, 3, 15, 12).timestamp()
    assert parse_when("2024-03-01") == datetime(2024, 3, 1).timestamp()
    assert parse_when("2024-03", end=True) == datetime(2024, 4, 1).timestamp()
    assert parse_when("2024", end=True) == datetime(2025, 1, 1).timestamp()
    assert parse_when("7d", now=now) == now - 7 * 86400
    assert parse_when("yesterday", now=now) == datetime(2024, 3, 14).timestamp()
    assert parse_when("today", now=now, end=True) == datetime(2024, 3, 16).timestamp()
    with pytest.raises(ScopeError, match="not a date"):
        parse_when("last tuesday-ish")
    assert parse_types(["PDF", ".md,docx"]) == ("pdf", "md", "docx")
    assert "xlsx" in parse_types(["spreadsheet"])
    with pytest.raises(ScopeError, match="not a file type"):
        parse_types(["p d f"])
    # an extension no parser reads would match nothing: an error, with the likely one
    with pytest.raises(ScopeError, match=r"reads no files of type 'pfd' \(did you mean pdf"):
        parse_types(["pfd"])
    with pytest.raises(ScopeError, match=r"reads no files of type 'nonsense' \(an extension such as pdf"):
        scope_of(types=["nonsense"])
    assert parse_types(["gif,tex,mbox"]) == ("gif", "tex", "mbox")  # read by the image, markup and mail parsers
    stored = Scope(types=("gone",)).to_json()  # a scope an earlier run kept, its plugin's parser since removed
    assert Scope.from_json(stored).types == ("gone",)
    with pytest.raises(ScopeError, match="not after"):
        scope_of(since="2024-03-02", until="2024-03-01")
    scope = scope_of(within=["~/x"], types=["pdf"], since="2024-01-01")
    assert Scope.from_json(scope.to_json()) == scope
    assert scope.within == (str(Path("~/x").expanduser()),)
    with pytest.raises(ScopeError, match="not a date"):
        parse_when("9999-12-31", end=True)
    assert "type pdf" in scope.describe()
