"""Sentence splitting for English and Japanese (and mixed) text.

Written here rather than taken from a library: pysbd and friends are slow and
do not handle unspaced Japanese; what a chunker needs is only sentence *spans*
(start, end offsets into the original text) so that line numbers survive.
"""

from __future__ import annotations

import re

# Japanese terminators end a sentence wherever they stand (no space follows in Japanese),
# together with any closing brackets or quotes right after them.
_JA_END = r"[。！？!?．]+[」』）)\]】〕\"'”’]*"
# Western terminators end a sentence only before whitespace and an upper-case letter, digit,
# quote or CJK character; common abbreviations are protected below.
_EN_END = r"[.!?]+[\"'”’)\]]*(?=\s+[\"'“‘(\[]?[A-Z0-9\u3040-\u30ff\u4e00-\u9fff])"
_BOUNDARY = re.compile(rf"{_JA_END}|{_EN_END}|\n\s*\n")
_CLOSERS = frozenset("」』）)]】〕\"'”’")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "vs",
        "etc",
        "e.g",
        "i.e",
        "no",
        "fig",
        "eq",
        "vol",
        "al",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "gen",
        "gov",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "u.s",
        "u.k",
        "approx",
        "ca",
    ]
)
_WORD_BEFORE = re.compile(r"([\w.]+)$")


_ENUMERATOR = re.compile(r"(?:^|\n)[ \t]*\d{1,3}\.$")  # "1." opening an item of a numbered list


def _is_abbreviation(text: str, end: int) -> bool:
    """True if the '.' ending at ``end`` closes an abbreviation, an initial ("J. Smith") or a list number."""
    if text[end - 1] != ".":
        return False
    if _ENUMERATOR.search(text, max(0, end - 8), end):
        return True
    m = _WORD_BEFORE.search(text, 0, end - 1)
    if not m:
        return False
    word = m.group(1).lower().rstrip(".")
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split ``text`` into sentences; returns (start, end) offsets with surrounding space trimmed."""
    spans: list[tuple[int, int]] = []
    start = 0
    for m in _BOUNDARY.finditer(text):
        end = m.end()
        if m.group(0)[-1:] == "." and _is_abbreviation(text, end):
            continue
        if m.group(0)[-1] in _CLOSERS and end < len(text) and "\u3040" <= text[end] <= "\u309f":
            continue  # a quoted exclamation inside a sentence: 「梅雨入り！」という。
        _append_trimmed(text, start, end, spans)
        start = end
    _append_trimmed(text, start, len(text), spans)
    return spans


def _append_trimmed(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start:
        spans.append((start, end))


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]
