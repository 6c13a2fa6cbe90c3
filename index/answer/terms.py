"""Content terms for overlap scoring: the lexical index's query terms, lightly stemmed."""

from __future__ import annotations

import re

from ragd.index.tokenize import query_terms

_SUFFIXES = ("ies", "es", "s", "ed", "ing", "ly")
_LATIN = re.compile(r"[a-z]")


def stem(term: str) -> str:
    """A light English stemmer for overlap scoring (Japanese terms are already normalised by Sudachi)."""
    if not _LATIN.match(term) or len(term) <= 4:
        return term
    for suffix in _SUFFIXES:
        if term.endswith(suffix) and len(term) - len(suffix) >= 4:
            term = term[: -len(suffix)]
            if suffix in ("ed", "ing") and term.endswith("rr"):  # occurred, referring: r doubled before the ending
                term = term[:-1]
            break
    return term[:7]


def stems(text: str) -> set[str]:
    return {stem(t) for t in query_terms(text)}
