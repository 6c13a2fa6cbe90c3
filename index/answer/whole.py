"""Whole-document requests: "summarise FILE", "what does FILE say about X", "compare A and B".

A top-k sample of passages cannot summarise a document, so the named files are read whole, in order. Map: the
document's chunks, in batches that fit the model's context, each condensed by the model into a sentence or two
that cite the batch's passages; each note is checked like any answer (only sentences whose citation verifies in
the file are kept; a summary's batch that yields none is represented by its opening sentence, quoted). Reduce:
the notes of each file, in document order, become the answer (per file, for a comparison). Every sentence of
the result carries a verified citation. A document longer than ``MAX_BATCHES`` batches is read in strides past
that point (the answer says how many passages and passes it read).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ragd.index.answer import cite, prompt, support
from ragd.index.answer.models import Answer, Citation, Sentence, Source
from ragd.index.llm.base import LLM, Message, complete
from ragd.index.llm.settings import model_notice
from ragd.index.models import Hit
from ragd.index.sentences import sentence_spans
from ragd.index.store.catalog import Catalog
from ragd.index.store.records import hit_of

MAP_TOKENS = 160  # a note per batch: a sentence or two
MAX_BATCHES = 32  # passes per file; past them a longer document is read in strides (some passages skipped)
SUMMARY_REQUEST = {"en": "Summarise what these passages say.", "ja": "これらの箇所の内容を要約してください。"}
ABOUT = {"en": "What do these passages say about this: {q}",
         "ja": "これらの箇所は次のことについて何と言っているか：{q}"}
NOTHING = {"en": "(nothing about this)", "ja": "（該当なし）"}
FILE_HEAD = {"en": "{name}:", "ja": "{name}："}
READ = {"en": "Read whole: {files} ({passages} in {batches}).",
        "ja": "全体を読みました：{files}（{passages}箇所、{batches}回）。"}
READ_PART = {"en": "Read in part: {files} ({read} of {passages} in {batches}; a document this long is read in strides "
                   "past the first passes).",
             "ja": "一部を読みました：{files}（{passages}箇所中{read}箇所、{batches}回。"
                   "長い文書は途中から間引いて読みます）。"}
SUMMARY_WORDS = ("summar", "overview", "要約", "まとめ", "概要")


@dataclass
class Note:
    """One verified sentence of a batch's condensed text, with where it rests."""

    text: str
    citation: Citation
    support: str
    missing: tuple[str, ...] = ()
    quoted: bool = False  # the file's own sentence, standing for a batch the model could not condense


@dataclass
class Notes:
    path: str
    notes: list[Note] = field(default_factory=list)
    passages: int = 0  # the file's passages
    read: int = 0  # of them, read (all but those skipped in strides past MAX_BATCHES)
    batches: int = 0


Verify = Callable[[Source, str, str], Citation | None]


def is_summary(question: str) -> bool:
    low = question.casefold()
    return not question.strip() or any(w in low for w in SUMMARY_WORDS)


def document_hits(catalog: Catalog, path: str) -> list[Hit]:
    """The file's chunks as hits, in document order."""
    return [hit_of(item, 0.0) for item in catalog.chunks_of(path)]


def read_whole(question: str, path: str, hits: Sequence[Hit], llm: LLM, verify: Verify, *,
               answer_tokens: int, lang: str) -> Notes:
    """Map: the document's passages in batches that fit the context, each condensed into verified notes."""
    request = SUMMARY_REQUEST[lang] if is_summary(question) else ABOUT[lang].format(q=question.strip())
    out = Notes(path, passages=len(hits))
    rest = list(hits)
    strided = False

    def batch(passages: Sequence[Hit]) -> tuple[list[Message], list[Source]]:
        return prompt.build(request, passages, context_length=llm.context_length,
                            answer_tokens=min(MAP_TOKENS, answer_tokens), count=llm.count_tokens)

    while rest:
        messages, sources = batch(rest)
        if not sources:  # the context cannot hold even the opening of this passage
            rest = rest[1:]
            continue
        taken = len(sources)
        if taken > 1 and sources[-1].hit.text != rest[taken - 1].text:  # cut to fit: whole, in the next batch
            taken -= 1
            messages, sources = batch(rest[:taken])
        out.batches += 1
        out.read += taken
        text = complete(llm, messages, max_tokens=MAP_TOKENS).strip()
        notes = _verified_notes(text, sources, request, verify)
        if not notes and is_summary(question):
            notes = _opening(sources, verify)
        out.notes += notes
        rest = rest[taken:]
        if out.batches >= MAX_BATCHES and rest and not strided:  # past this, every n-th passage of the rest
            step = max(2, len(rest) // max(1, taken * MAX_BATCHES // 4))
            rest, strided = rest[::step], True
    return out


def _verified_notes(text: str, sources: list[Source], request: str, verify: Verify) -> list[Note]:
    notes: list[Note] = []
    for match, verdict in support.judge_answer(text, sources, request):
        if match.candidate is None or verdict.verdict == "unsupported":
            continue
        citation = verify(sources[match.candidate.n - 1], cite.quote_of(match.candidate.text), match.claim)
        if citation is not None and not any(n.text == match.claim for n in notes):
            notes.append(Note(match.claim, citation, verdict.verdict, verdict.missing))
    return notes


def _opening(sources: list[Source], verify: Verify) -> list[Note]:
    """The batch's first sentence, quoted: what stands for a batch the model could not condense verifiably."""
    for source in sources:
        spans = sentence_spans(source.hit.text)
        if not spans:
            continue
        start, end = spans[0]
        sentence = source.hit.text[start:end].strip()
        citation = verify(source, cite.quote_of(sentence), sentence)
        if citation is not None:
            return [Note(sentence, citation, "supported", quoted=True)]
    return []


def assemble(question: str, read: Sequence[Notes], lang: str, model: str, started: float) -> Answer:
    """Reduce: the notes of each file in order, each sentence with its citation number, as one answer."""
    pieces: list[str] = []
    citations: list[Citation] = []
    sentences: list[Sentence] = []
    pos = 0

    def put(text: str) -> None:
        nonlocal pos
        pieces.append(text)
        pos += len(text)

    for i, notes in enumerate(read):
        if i:
            put("\n\n")
        if len(read) > 1:
            put(FILE_HEAD[lang].format(name=notes.path.rsplit("/", 1)[-1]) + "\n")
        if not notes.notes:
            put(NOTHING[lang])
            continue
        for j, note in enumerate(notes.notes):
            if j:
                put(" ")
            citation = Citation(**{**note.citation.__dict__, "n": len(citations) + 1})
            citations.append(citation)
            start = pos
            body = note.text.rstrip()
            put(f"{body} [{citation.n}]")
            sentences.append(Sentence(start, start + len(body), body, note.support, (len(citations) - 1,),
                                      note.missing))
    passages, done = sum(n.passages for n in read), sum(n.read for n in read)
    batches = sum(n.batches for n in read)
    if lang == "en":
        said = {"passages": _count(passages, "passage"), "batches": _count(batches, "pass", "passes"),
                "read": str(done)}
    else:
        said = {"passages": str(passages), "batches": str(batches), "read": str(done)}
    template = READ if done >= passages else READ_PART
    put("\n\n" + template[lang].format(files=", ".join(n.path.rsplit("/", 1)[-1] for n in read), **said))
    in_its_words = any(not note.quoted for notes in read for note in notes.notes)  # not only the files' openings
    answer = Answer(question, "".join(pieces), grounded=bool(citations), citations=citations, model=model,
                    sentences=sentences, notice=model_notice(model) if in_its_words else None)
    answer.timings = {"total": time.perf_counter() - started}
    return answer


def _count(n: int, one: str, many: str = "") -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"
