"""Does a sentence that gives the question's answer hold to the question? A sentence after "The answer is",
or one that restates the question with an ending, claims that what it gives is the question's answer: "The answer
is: The Partridge Family" (from a list of 1970s hits) to "Who is Antigone's father?". Its source must be about the
question (``off_the_question``) and must not give another answer beside the question's words
(``answered_by_another``)."""

from __future__ import annotations

import re

from ragd.index.answer import cite
from ragd.index.answer.details import details, spellings
from ragd.index.answer.terms import stem, stems
from ragd.index.answer.wording import ANSWER_WORDS, ECHOES, JA_NAMING, QUOTED, naming
from ragd.index.chunk import CJK_CHAR
from ragd.index.tokenize import query_terms

ON_QUESTION_SHARE = 0.5  # share of the question's terms that the passage around an answer's source must hold
ECHOED_QUESTION = "anything beyond the question"  # what a bare answer made of the question's own words lacks
# "The answer is: 40,000", "The correct answer to this question is", "答えは": what follows is the answer
ANSWER_IS = re.compile(r"^\s*(?:(?:the\s+)?(?:correct\s+)?answer\b[^:.]{0,80}?(?:\bis\b|\bwas\b|:)"
                       r"|(?:答え|回答)は[、,:：]?)", re.IGNORECASE)
_CLAUSE_VERB = re.compile(r"\b(?:is|are|was|were|has|have|had|can|could|will|would|does|did|may|might)\b",
                          re.IGNORECASE)
_QUESTION_WORD = re.compile(rf"\d+(?:[.,]\d+)*|[A-Za-z][\w'’-]*|{JA_NAMING.pattern}")
# a name set off beside a phrase: "Creon, the current King", "Sugarfoot (a remake", "Thebes), Creon"
_APPOSITION = re.compile(r"^\s*[)）]?\s*[,(（、]\s*(?:(?:the|a|an|its|their)\s+)?$", re.IGNORECASE)
# the word before a name, small words between them allowed ("sold to Henry Plitt")
_LEADING = re.compile(r"\b(\w+)\s+(?:(?:to|by|from|of|for|as|at|in|on|with|the|a|an|its|their)\s+){0,2}$",
                      re.IGNORECASE)
_AFTER_PREPOSITION = re.compile(r"\b(?:from|in|at|by|to|of|on|for|with|into|across|through)\s+$", re.IGNORECASE)
# a question that asks for a count or an amount ("a maximum of how many radio stations?"); the count before the
# question's words is found in English only ("seven radio stations"), so this is English too
_HOW_MANY = re.compile(r"\bhow\s+(?:many|much)\b", re.IGNORECASE)
# a question that asks for a count or an amount, in English or Japanese: an answer to it gives a number
_QUANTITY = re.compile(r"\bhow\s+(?:many|much|large|big)\b|何(?:人|個|回|倍|割|%|％|パーセント)|いくつ|いくら",
                       re.IGNORECASE)
# counts that ``details`` does not read as numbers: "forty", "hundreds", "half", "数百", "三つ"
_COUNT_WORD = re.compile(r"\b(?:one|once|twice|none|zero|no|half|several|dozens?"
                         r"|(?:twen|thir|for|fif|six|seven|eigh|nine)ty|hundreds?|thousands?|millions?|billions?"
                         r"|a (?:single|few))\b"
                         r"|[一二三四五六七八九十百千万億数半幾]+(?:つ|[人個回倍割%％])", re.IGNORECASE)
NO_NUMBER = "a number (the question asks how many or how much)"  # what an answer without one lacks
_MONTHS = frozenset(("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                     "november", "december"))
_COMMA = re.compile(r",(?!\d{3})")  # a comma between words, not one in "40,000"


def off_the_question(sentence: str, source: str, question: str, passage: str = "", about: str = "") -> list[str]:
    """What is wrong with a sentence that answers ``question`` from a place that is not about it: "The answer is:
    The Partridge Family" (from a list of 1970s hits) to "Who is Antigone's father?", or the question restated with
    an ending from elsewhere. Such a sentence claims that its answer is the question's; so ``source``, with the
    sentences beside it in ``passage`` (which may name what ``source`` calls "it"; not for a bare answer, which
    ties to nothing but its own sentence), must hold at least half of the question's terms (those it lacks are
    returned, as the question writes them), and a number the answer gives must be in ``source`` itself ("began
    in 1934" resting on "In 1938, the FCC began"). What the passage is ``about`` (its document's title and
    headings: "日本共産党 > 機関紙") counts as held. A bare answer made of the question's own words answers nothing."""
    asked = stems(question) - ANSWER_WORDS
    quoted = QUOTED.search(sentence)
    said = ECHOES.sub(" ", quoted.group(1) if quoted else sentence)
    bare = bare_answer(said)
    if not asked or not (bare or _restates(said, asked) or ANSWER_IS.match(said)):  # "The answer is that …"
        return []
    out: list[str] = []
    if bare and stems(said) <= asked | ANSWER_WORDS:  # "The answer is: terra preta." to "What is terra preta called?"
        out.append(ECHOED_QUESTION)
    held = stems(source if bare else around(source, passage or source)) | stems(about)  # a bare answer ties to
    # nothing but its own sentence and what the passage is about
    if len(asked & held) < ON_QUESTION_SHARE * len(asked):
        out += list(dict.fromkeys(_as_written(t, question) for t in query_terms(question)
                                  if stem(t) in asked and stem(t) not in held))
    given = details(said).numbers
    if (ANSWER_IS.match(said) and _QUANTITY.search(question) and not given - details(question).numbers
            and not _COUNT_WORD.search(ANSWER_IS.sub("", said))):
        out.append(NO_NUMBER)  # "The answer is: Plastoglobuli are spherical" to "How large are Plastoglobuli?"
    numbers = given - details(question).numbers - details(source).numbers
    return list(dict.fromkeys(out + sorted(numbers) + answered_by_another(said, source, question, asked)))


def answered_by_another(answer: str, source: str, question: str, asked: set[str]) -> list[str]:
    """The names and numbers ``answer`` gives where ``source`` gives another as what the question asks for, beside
    its words: "The current King of Thebes in the play is Antigone" resting on "… defies Creon, the current King
    of Thebes, …", or "The answer is: 1." to "… a maximum of how many radio stations?" resting on "… a maximum of
    seven radio stations … for $1 million". The question's words are found in ``source`` as the longest run of
    them (small words skipped, one other word between two of them allowed); what the source gives there is a name
    set off beside the run by a comma or a bracket ("Creon, the"), unless it is the run's own initials ("Vertical
    Assembly Building (VAB)"), or, for a question asking how many, a number just before it ("seven radio
    stations"); a name just before the run is its subject ("the Netherlands faced a complete embargo"; not a month
    before a year, "In July 1968, …"), and comes first; so does a name after the run's start just after another of
    the question's words ("… was sold to Henry Plitt in 1974"; not "the play Antigone, in which …" before "Creon,
    the current King of Thebes")."""
    given = {n.lower() for n in naming(question)}
    names = [n for n in naming(answer) if n.lower() not in given and stem(n.lower()) not in asked]
    if not names:
        return []
    words = [w for w in _QUESTION_WORD.finditer(source) if query_terms(w.group())]
    on = [stem(w.group().lower()) in asked or (bool(CJK_CHAR.search(w.group())) and w.group() in question)
          for w in words]
    start, end, count = _longest_run(source, words, on)
    if count < 2:
        return []
    initials = "".join(w.group()[0] for w in words if start <= w.start() < end and w.group()[0].isupper())
    counting = {w.start() for w, o in zip(words, on, strict=True) if o and start <= w.start() < end}
    numbers = details(source).numbers - details(question).numbers
    counts = numbers if _HOW_MANY.search(question) else set()  # a count answers "how many", not "when"

    def beside(name: str) -> bool:
        if name in numbers:  # just before one of the run's question words: "seven radio stations"
            return any(m.end() + 1 in counting and source[m.end()] == " " for m in _written(spellings(name), source))
        return any(_APPOSITION.match(source[m.end() : start] if m.end() <= start else source[end : m.start()])
                   and not _AFTER_PREPOSITION.search(source[: m.start()])  # "From Italy, the disease …"
                   for m in _written([name], source) if m.end() <= start or m.start() >= end)

    def doing(name: str) -> bool:  # the subject of the run: "the Netherlands faced a complete embargo"
        return any(m.end() < start and not source[m.end() : start].strip()
                   and source[: m.start()].strip(" \"'“‘(")  # not the sentence's first word: "Later faced with …"
                   and not (name.lower() in _MONTHS and source[start].isdigit())  # "In July 1968, ABC Radio …"
                   for m in _written([name], source))

    def led_in(name: str) -> bool:  # just after one of the question's words: "was sold to Henry Plitt"
        return any((w := _LEADING.search(source[: m.start()])) and stem(w.group(1).lower()) in asked
                   for m in _written([name], source) if m.start() >= start)  # not "the play Antigone" before

    others = [w for _, w in details(source).names if w != initials and w.lower() not in given]
    named = [n for n in names if n not in numbers and not n[0].isdigit()]  # a date answers another question
    if any(doing(n) or led_in(n) for n in named):
        return []
    if named and any(doing(n) for n in others):  # it comes before a name set off after the run: ", the UK and"
        return named
    if any(beside(n) for n in names):
        return []
    return names if any(beside(n) for n in [*others, *counts]) else []


def _written(forms: list[str], text: str) -> list[re.Match[str]]:
    """Where ``text`` writes one of ``forms`` as a word of its own (in any case)."""
    return list(re.finditer(rf"(?<!\w)(?:{'|'.join(map(re.escape, forms))})(?!\w)", text, re.IGNORECASE))


def _longest_run(text: str, words: list[re.Match[str]], on: list[bool]) -> tuple[int, int, int]:
    """The longest run of ``words`` (of ``text``) that are ``on``, one word between two of them allowed (not
    across a comma): its start, its end and how many of its words are on."""
    run, i = (0, 0, 0), 0
    while i < len(words):
        j, count = i, int(on[i])
        while on[i] and j + 1 < len(words) and (on[j + 1] or (
                j + 2 < len(words) and on[j + 2] and not _COMMA.search(text[words[j].end() : words[j + 2].start()]))):
            j += 1
            count += on[j]
        if count > run[2]:
            run = (words[i].start(), words[j].end(), count)
        i = j + 1
    return run


def _as_written(term: str, text: str) -> str:
    """``term`` (in lower case) as ``text`` writes it: "Antigone" for "antigone"."""
    m = re.search(rf"(?<!\w){re.escape(term)}", text, re.IGNORECASE)
    return m.group(0) if m else term


def bare_answer(sentence: str) -> bool:
    """An answer alone after "The answer is": "The answer is: The Walt Disney Company", not a statement "The
    answer is: Turing machines are …", which is judged as any statement is."""
    if m := ANSWER_IS.match(sentence):
        rest = sentence[m.end():]
        if not re.search(r"\w", rest):  # "The answer is:" gives nothing yet: it leads into what follows
            return False
        return not _CLAUSE_VERB.search(re.split(r"[,(;、（]", rest)[0]) and (
            not CJK_CHAR.search(rest) or len(rest.strip()) <= 20)
    return False


def _restates(sentence: str, asked: set[str]) -> bool:
    """The sentence restates half the question (or more): it gives the question's answer."""
    return len(asked) >= 2 and len(stems(sentence) & asked) >= len(asked) / 2


def around(source: str, passage: str) -> str:
    """``source`` and the sentences before and after it in its paragraph of ``passage``."""
    for sentences in cite.paragraphs(passage):
        if source in sentences:
            i = sentences.index(source)
            return " ".join(sentences[max(0, i - 1) : i + 2])
    return source
