"""Whether the index agrees with itself and with the disk: what ``ragd verify`` reports."""

from __future__ import annotations

import os

from ragd.index.paths import is_url
from ragd.index.store.catalog import Catalog
from ragd.index.store.health import catalog_problem
from ragd.index.store.vectors import VectorStore


def verify(catalog: Catalog, vectors: VectorStore, check_files: bool = True) -> list[str]:
    """Damage, and differences between the manifest, the lexical index, the vector store and the disk."""
    damage = catalog_problem(catalog.path)
    if damage is not None:  # nothing else in it can be trusted
        return [f"the catalog {catalog.path} is damaged ({damage}); `ragd repair` rebuilds it"]
    problems = catalog.fts_consistency()
    have = vectors.ids()
    want = catalog.all_vector_ids()
    problems += _listed("vector store lacks chunk", "more chunks missing from the vector store", want - have)
    problems += _listed("vector store has unknown chunk", "more unknown ids in the vector store", have - want)
    if check_files:
        for path, rec in catalog.files().items():
            if rec.status == "indexed" and not is_url(path) and not os.path.exists(path):
                problems.append(f"{path}: indexed but no longer on disk (run `ragd index`)")
    return problems


def _listed(each: str, rest: str, ids: set[str], shown: int = 20) -> list[str]:
    """One line per id for the first ``shown``, then a count of the rest."""
    lines = [f"{each} {cid}" for cid in sorted(ids)[:shown]]
    if len(ids) > shown:
        lines.append(f"... and {len(ids) - shown} {rest}")
    return lines
