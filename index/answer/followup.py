"""Follow-up questions made standalone before retrieval.

"And the beans?" after "When were the tomatoes planted?" cannot be searched as it is: its referent is only in
an earlier turn. With a capable model, the model rewrites it ("When were the beans planted?") and the earlier
turn's rarest terms that the rewrite leaves out are added to it; with a tiny one or none, the lexical fallback
carries those terms (its names and subjects) into the search. Either way the query actually searched is kept
with the answer and shown.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ragd.index.llm.base import LLM, LLMError, Message, complete
from ragd.index.tokenize import query_terms

CARRIED_TERMS = 4  # of the earlier turn's terms, the rarest this many are carried
COMMON_SHARE = 0.05  # a term in more of the chunks than this sets nothing apart: not carried
# ("that", "there", "one" are left out: "the law that…", "is there…" start standalone questions as often)
_ANAPHOR_EN = re.compile(r"\b(it|its|they|them|their|theirs|this|these|those|he|him|his|she|her|hers|same|too|else|"
                         r"other|others|former|latter)\b", re.IGNORECASE)
_OPENING_EN = re.compile(r"^\s*(and|but|so|or|what about|how about|why|what else)\b", re.IGNORECASE)
_ANAPHOR_JA = re.compile(r"それ|その|そこ|そちら|これ|この|ここ|こちら|あれ|あの|あそこ|彼|彼女|同じ|前者|後者|"
                         r"^\s*(では|じゃあ|で、|それで|また)")
MIN_OWN_TERMS = 2  # a question with fewer content terms than this leans on what came before


@dataclass(frozen=True)
class Standalone:
    """What to search for a question of a conversation, and how it was made."""

    text: str
    by: str = "asked"  # "asked" (it stands alone), "model" (the model's rewrite) or "carried" (terms carried)


@dataclass(frozen=True)
class Turn:
    """An earlier exchange of the conversation."""

    question: str
    answer: str = ""
    searched: str = ""  # what was searched for it (its standalone form)

    def to_json(self) -> dict[str, str]:
        return {"question": self.question, "answer": self.answer, "searched": self.searched or self.question}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Turn:
        return cls(str(data.get("question") or ""), str(data.get("answer") or ""),
                   str(data.get("searched") or data.get("question") or ""))


def leans_on_earlier(question: str) -> bool:
    """Whether the question refers to something said before (a pronoun, "and ...?", or too few words of its
    own to be searched alone)."""
    return bool(_ANAPHOR_EN.search(question) or _OPENING_EN.search(question) or _ANAPHOR_JA.search(question)
                or len(query_terms(question)) < MIN_OWN_TERMS)


Frequencies = Callable[[Sequence[str]], tuple[int, dict[str, int]]]  # (chunks, {term: chunks holding it})


def carried_terms(question: str, turns: Sequence[Turn], frequencies: Frequencies,
                  limit: int = CARRIED_TERMS) -> list[str]:
    """The rarest terms of the latest earlier turn's search (names, subjects) that the question lacks."""
    if not turns:
        return []
    own = set(query_terms(question))
    earlier = [t for t in dict.fromkeys(query_terms(turns[-1].searched or turns[-1].question)) if t not in own]
    if not earlier:
        return []
    total, df = frequencies(earlier)
    useful = [t for t in earlier if 0 < df.get(t, 0) <= max(1, COMMON_SHARE * total)]
    return sorted(useful, key=lambda t: df[t])[:limit]


def lexical_standalone(question: str, turns: Sequence[Turn], frequencies: Frequencies) -> str:
    if not turns or not leans_on_earlier(question):
        return question
    return _carried(question, turns, frequencies)


def topped_up(rewrite: str, question: str, turns: Sequence[Turn], frequencies: Frequencies) -> str:
    """The model's rewrite with the earlier turn's rare terms that it left out carried after it: a rewrite that
    names the wrong thing, or too little, still finds what the conversation is about."""
    said = set(query_terms(rewrite))
    missing = [t for t in carried_terms(question, turns, frequencies) if t not in said]
    return f"{rewrite.strip()} {' '.join(missing)}" if missing else rewrite


def _carried(question: str, turns: Sequence[Turn], frequencies: Frequencies) -> str:
    carried = carried_terms(question, turns, frequencies)
    return f"{question.strip()} {' '.join(carried)}" if carried else question


def resolved(turns: Sequence[Turn], frequencies: Frequencies) -> list[Turn]:
    """The turns with what was searched for each filled in where the caller did not know it (a client that keeps
    the conversation itself): each made standalone from the ones before, so that references chain."""
    out: list[Turn] = []
    for turn in turns:
        if not turn.searched:
            turn = Turn(turn.question, turn.answer, lexical_standalone(turn.question, out, frequencies))
        out.append(turn)
    return out


REWRITE_SYSTEM = ("Rewrite the user's last question as one standalone question that can be understood without "
                  "the conversation: name what it refers to. Keep its language. Reply with the question only.")
MAX_REWRITE_TOKENS = 96
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def model_standalone(question: str, turns: Sequence[Turn], llm: LLM) -> str | None:
    """The model's standalone form of ``question``, or None when what it wrote is not a usable question."""
    lines = []
    for turn in turns[-3:]:
        lines.append(f"Q: {turn.question.strip()}")
        if turn.answer.strip():
            lines.append(f"A: {turn.answer.strip()[:400]}")
    prompt = "Conversation:\n" + "\n".join(lines) + f"\n\nLast question: {question.strip()}\nStandalone question:"
    try:
        reply = complete(llm, [Message("system", REWRITE_SYSTEM), Message("user", prompt)],
                         max_tokens=MAX_REWRITE_TOKENS)
    except LLMError:
        return None
    return usable_rewrite(question, reply, turns)


def usable_rewrite(question: str, reply: str, turns: Sequence[Turn] = ()) -> str | None:
    """The first line of ``reply`` as a question, if it is one: not empty, not an essay, sharing a term with the
    question or the turn before it (a rewrite about neither answered something else), and with no number that
    the conversation does not hold (a rewrite that adds one is answering, not asking)."""
    line = next((ln.strip() for ln in reply.strip().splitlines() if ln.strip()), "")
    line = re.sub(r"^(standalone question|question|q)\s*[:：]\s*", "", line, flags=re.IGNORECASE).strip(" \"'“”「」")
    if not line or len(line) > 3 * len(question) + 200:
        return None
    context = set(query_terms(question))
    if turns:
        context |= set(query_terms(turns[-1].searched or turns[-1].question))
    if context and not context & set(query_terms(line)):
        return None
    said = " ".join([question, *(f"{t.question} {t.answer}" for t in turns)])
    if any(n not in said for n in _NUMBER.findall(line)):
        return None
    return line


def standalone(question: str, turns: Sequence[Turn], frequencies: Frequencies, llm: Callable[[], LLM] | None,
               ) -> Standalone:
    """What to search for ``question`` after ``turns``: the model's rewrite when ``llm`` is given and its reply
    is usable (with the earlier turn's rare terms it left out), else the lexical fallback. A question that stands
    alone is searched as it is."""
    if not turns or not leans_on_earlier(question):
        return Standalone(question)
    turns = resolved(turns, frequencies)
    rewritten = None if llm is None else model_standalone(question, turns, llm())
    return made_standalone(question, rewritten, turns, frequencies)


def made_standalone(question: str, rewritten: str | None, turns: Sequence[Turn], frequencies: Frequencies,
                    ) -> Standalone:
    """What to search for ``question``, which leans on ``turns``, given the model's rewrite of it (None: no model,
    or no usable reply)."""
    if rewritten is not None:  # topped up: alone, a 1.5B model's rewrites found less than the carried terms
        return Standalone(topped_up(rewritten, question, turns, frequencies), "model")
    carried = _carried(question, turns, frequencies)
    return Standalone(carried, "carried" if carried != question else "asked")
