"""The prompt: numbered sources within the model's context budget, counted with its tokenizer."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from ragd.index.answer.models import Source
from ragd.index.chunk import CJK_CHAR
from ragd.index.llm.base import Message
from ragd.index.location import place_of
from ragd.index.models import Hit
from ragd.index.sentences import sentence_spans

SYSTEM = {
    "en": ("You answer questions about the user's own files, using only the numbered sources below. "
           "Answer in one or two short sentences, in English, with the exact words of the source, "
           "and cite it like [1]. If the sources do not contain the answer, say that the files do not contain it."),
    "ja": ("あなたはユーザー自身のファイルについての質問に、下の番号付きの資料だけを使って答えます。"
           "日本語で、資料の言葉をそのまま使って一、二文で簡潔に答え、[1] のように出典を示してください。"
           "資料に答えがなければ、ファイルには答えがないと答えてください。"),
}
QUESTION = {"en": "Question: {q}", "ja": "質問：{q}"}
EARLIER = {"en": "Earlier in this conversation the user asked: {q}", "ja": "この会話で先に聞かれた質問：{q}"}
SOURCES = {"en": "Sources:", "ja": "資料："}
_LATIN = re.compile(r"[A-Za-z]")
MIN_SOURCE_TOKENS = 48  # a source cut shorter than this is left out


def language(text: str) -> str:
    """'ja' when the question is written in Japanese, else 'en' (the answer follows the question)."""
    cjk = len(CJK_CHAR.findall(text))
    return "ja" if cjk >= 2 and 2 * cjk >= len(_LATIN.findall(text)) else "en"


def source_block(n: int, hit: Hit, text: str) -> str:
    label = " > ".join(t for t in (hit.title, *hit.heading) if t) or hit.path.rsplit("/", 1)[-1]
    where = place_of(hit)
    return f"[{n}] {label}{f' ({where})' if where else ''}\n{text.strip()}"


def _fit(text: str, budget: int, count: Callable[[str], int]) -> str:
    """The longest run of whole sentences from the start of ``text`` that fits ``budget`` tokens."""
    kept = ""
    for _, end in sentence_spans(text):
        if count(text[:end]) > budget:
            break
        kept = text[:end]
    return kept


def build(question: str, hits: Sequence[Hit], *, context_length: int, answer_tokens: int,
          count: Callable[[str], int], earlier: Sequence[str] = ()) -> tuple[list[Message], list[Source]]:
    """Messages for the model and the sources they carry, best first, within the context window; ``earlier``
    questions of the conversation are said before the question (a follow-up's referent is there)."""
    lang = language(question)
    system = SYSTEM[lang]
    ask = "".join(EARLIER[lang].format(q=q.strip()) + "\n" for q in earlier) + QUESTION[lang].format(q=question.strip())
    budget = context_length - answer_tokens - count(system) - count(ask) - count(SOURCES[lang]) - 64  # template
    blocks: list[str] = []
    sources: list[Source] = []
    for hit in hits:
        n = len(sources) + 1
        block = source_block(n, hit, hit.text)
        cost = count(block) + 2
        if cost > budget:
            head = count(source_block(n, hit, ""))
            text = _fit(hit.text, budget - head - 2, count) if budget - head > MIN_SOURCE_TOKENS else ""
            if not text:
                break
            block, cost = source_block(n, hit, text), budget
            hit = Hit(**{**hit.__dict__, "text": text})
        blocks.append(block)
        sources.append(Source(n, hit))
        budget -= cost
    user = f"{SOURCES[lang]}\n\n" + "\n\n".join(blocks) + f"\n\n{ask}"
    return [Message("system", system), Message("user", user)], sources
