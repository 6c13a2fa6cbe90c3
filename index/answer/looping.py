"""A model caught in a loop: the point from which its answer only repeats itself.

A small model at temperature 0 often falls into a loop ("コンゴ労とコンゴ労と…", or one sentence over and
over) and writes until its token budget is spent: seconds of the user's CPU for text that says nothing new, and
a dozen copies of one sentence for the reader to go through. ``repeating_from`` finds where the repetition
begins, so the answer path can stop the model there and keep the text up to it (the first time a sentence or a
phrase was said). Our own: a sampler's repetition penalty would change every answer, not only the looping ones.
"""

from __future__ import annotations

import re

SENTENCE_TIMES = 3  # a sentence said this often, the same text between each copy, is a loop: it is kept once
SENTENCE_CHARS = 16  # shorter lines ("Sources:", "1.") may recur in a good answer
DRIFT_TIMES, DRIFT_CHARS = 6, 40  # a long sentence said this often is a loop even with other text between copies
# a source's place as the prompt writes it ("(lines 36-36)", "(p. 3, line 4)"): a loop may count it up each time
_PLACE = re.compile(r"\((?:(?:p\.|pages?|slide|lines?|rows?) \d+(?:-\d+)?(?:, )?)+(?:OCR)?\)")
PHRASE_TIMES = 4  # a phrase repeated back to back this often ("の一るの一るの一るの一る")
PHRASE_CHARS = 48  # ... over at least this many characters
LONG_PHRASE = 150  # a phrase this long needs only three copies
TAIL = 1200  # characters at the end of the text looked at for a phrase loop (each call: the loop is at the end)
# a sentence ends at . ! ? before white space (not in "3.5", "github.com", "Mr.Smith"), at 。！？, or at a line end
_SENTENCE_END = re.compile(r"(?<=[.!?])(?<!\bp\.)(?:\s+|$)|(?<=[。！？])\s*|\n+")  # not "(p. 3)"
_LETTER = re.compile(r"[^\W\d_]")  # a phrase must hold a letter: "[0, 0, 0, 0]," or "ーーーー" is no loop
_END_IN_PHRASE = re.compile(r"[.!?。！？]|(?=\n)")
_FENCE = "```"


def _phrase_loop(text: str) -> int | None:
    """Where a phrase that holds a word begins to repeat back to back (PHRASE_TIMES or more) at the end."""
    tail = text[-TAIL:]
    offset = len(text) - len(tail)
    in_code = text.count(_FENCE) % 2 == 1  # rows of a table or data repeat there: twice as many copies needed
    for period in range(2, len(tail) // 3 + 1):
        unit = tail[-period:]
        if tail[-2 * period : -period] != unit or not _LETTER.search(unit) or len(set(unit.strip())) < 2:
            continue  # not even twice back to back (the cheap test first: this runs after every piece streamed)
        times = 1
        while times * period + period <= len(tail) and tail[-(times + 1) * period : -times * period] == unit:
            times += 1
        enough = (PHRASE_TIMES if period < LONG_PHRASE else PHRASE_TIMES - 1) * (2 if in_code else 1)
        if times >= enough and times * period >= PHRASE_CHARS:
            start = offset + len(tail) - times * period
            while start > 0 and text[start - 1] == text[start - 1 + period]:
                start -= 1  # where the repetition really begins: the first copy then ends where a copy does
            cut = start + period  # keep the first time it was said, to the end of its sentence if one ends in it
            end = _END_IN_PHRASE.search(text, cut, cut + period)
            return cut if end is None else end.end()
    return None


def _sentence_loop(text: str) -> int | None:
    """Once a sentence comes a SENTENCE_TIMES-th time with the same text between its copies (a cycle, not a
    label that recurs in a list: "**Disadvantages:**" under each option), where its second copy begins: the
    answer keeps one turn of the cycle. Code is left alone (repeated lines are normal in it)."""
    seen: dict[str, list[int]] = {}
    run: list[int] = []  # starts of the lines back to back that differ only in a source's place
    run_key = ""
    pos = fences = 0  # fences before ``pos`` (counted as it goes: this runs after every piece streamed)
    for end in _SENTENCE_END.finditer(text):
        sentence = text[pos : end.start()].strip()
        start, in_code = pos, fences % 2 == 1
        pos = end.end()
        fences += text.count(_FENCE, start, pos)
        if not sentence:
            continue
        placeless = _PLACE.sub("()", sentence)
        if placeless == sentence or in_code:
            run, run_key = [], ""
        elif placeless == run_key:  # "生命の起源 (lines 37-37)", "生命の起源 (lines 38-38)", … one after another
            run.append(start)
            if len(run) >= DRIFT_TIMES:
                return run[1]
        else:
            run, run_key = [start], placeless
        if len(sentence) < SENTENCE_CHARS or in_code:
            continue
        starts = seen.setdefault(sentence, [])
        starts.append(start)
        if len(starts) >= SENTENCE_TIMES and text[starts[-3] : starts[-2]] == text[starts[-2] : starts[-1]]:
            return starts[-2]
        if len(starts) >= DRIFT_TIMES and len(sentence) >= DRIFT_CHARS:  # "[7] … (line 48)" between the copies
            return starts[1]
    return None


def repeating_from(text: str) -> int | None:
    """The offset from which ``text`` only repeats what it said (None: it is not looping)."""
    found = [at for at in (_sentence_loop(text), _phrase_loop(text)) if at is not None]
    return min(found) if found else None


def cut_short(streamed: str, kept: str) -> bool:
    """Whether the answer ``kept`` is what the answer path kept of the ``streamed`` text, having stopped the model
    in a loop (a face that showed the stream says so)."""
    return bool(kept.strip()) and streamed.strip() != kept.strip() and streamed.strip().startswith(kept.strip())
