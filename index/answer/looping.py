"""A model caught in a loop: the point from which its answer only repeats itself.

A small model at temperature 0 often falls into a loop ("コンゴ労とコンゴ労と…", or one sentence over and
over) and writes until its token budget is spent: seconds of the user's CPU for text that says nothing new, and
a dozen copies of one sentence for the reader to go through. ``repeating_from`` finds where the repetition
begins, so the answer path can stop the model there and keep the text up to it (the first time a sentence or a
phrase was said). Our own: a sampler's repetition penalty would change every answer, not only the looping ones.
"""

from __future__ import annotations

import re

SENTENCE_TIMES = 3  # a sentence said this often (the same words) is a loop: it is kept once
SENTENCE_CHARS = 16  # shorter lines ("Sources:", "1.") may recur in a good answer
PHRASE_TIMES = 4  # a phrase repeated back to back this often ("の一るの一るの一るの一る")
PHRASE_CHARS = 48  # ... over at least this many characters
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*|\n+")
_WORDY = re.compile(r"\w")
_END_IN_PHRASE = re.compile(r"[.!?。！？]|(?=\n)")


def _phrase_loop(text: str) -> int | None:
    """Where a phrase that holds a word begins to repeat back to back, PHRASE_TIMES or more, at the end."""
    tail = text[-600:]
    offset = len(text) - len(tail)
    for period in range(2, len(tail) // PHRASE_TIMES + 1):
        unit = tail[-period:]
        if not _WORDY.search(unit):
            continue
        times = 1
        while times * period + period <= len(tail) and tail[-(times + 1) * period : -times * period] == unit:
            times += 1
        if times >= PHRASE_TIMES and times * period >= PHRASE_CHARS:
            start = offset + len(tail) - times * period
            while start > 0 and text[start - 1] == text[start - 1 + period]:
                start -= 1  # where the repetition really begins: the first copy then ends where a copy does
            cut = start + period  # keep the first time it was said, to the end of its sentence if one ends in it
            end = _END_IN_PHRASE.search(text, cut, cut + period)
            return cut if end is None else end.end()
    return None


def _sentence_loop(text: str) -> int | None:
    """Once a sentence is said for the SENTENCE_TIMES-th time (among the finished ones), where it was said again
    the first time: the answer keeps it once."""
    seen: dict[str, list[int]] = {}
    pos = 0
    for end in _SENTENCE_END.finditer(text):
        sentence = text[pos : end.start()].strip()
        start = pos
        pos = end.end()
        if len(sentence) < SENTENCE_CHARS:
            continue
        starts = seen.setdefault(sentence, [])
        starts.append(start)
        if len(starts) >= SENTENCE_TIMES:
            return starts[1]
    return None


def repeating_from(text: str) -> int | None:
    """The offset from which ``text`` only repeats what it said (None: it is not looping)."""
    found = [at for at in (_sentence_loop(text), _phrase_loop(text)) if at is not None]
    return min(found) if found else None
