"""The answer path: retrieve, judge the evidence, prompt the model, cite and verify.

When the passages do not hold the question's terms, the model is not asked at all: ragd
says plainly that the files do not contain the answer and shows the nearest passages.
When the model answers, each of its sentences is matched to a source sentence, the quote is
verified in the file, and the sentence gets a verdict (``support``): supported, partly, or
unsupported, which the faces show (or, with ``unsupported = "drop"``, leave out). An answer
none of whose sentences can be cited is replaced by the source sentence that best matches
the question, quoted and cited. ``grounded`` says that the files hold evidence for the
question; that every sentence is supported is ``supported_share == 1``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ragd.index.answer import cite, followup, grounding, looping, prompt, support, whole
from ragd.index.answer.models import Answer, AskOptions, Citation, Sentence, Source
from ragd.index.answer.verify import Verifier
from ragd.index.errors import NotInIndex
from ragd.index.llm.base import LLM, Message
from ragd.index.llm.settings import model_notice
from ragd.index.models import Hit
from ragd.index.retrieve import Retriever
from ragd.index.scope import Scope
from ragd.index.store.catalog import Catalog

NOT_FOUND = {
    "en": "Your files do not seem to contain the answer to this question. The nearest passages are listed below.",
    "ja": "インデックスされたファイルには、この質問の答えが見つかりませんでした。最も近い箇所を下に示します。",
}
LEFT_OUT = {
    "en": "({n} sentence(s) of the model's answer were left out: they are not found in your files.)",
    "ja": "（ファイルに見つからない文を{n}件省きました。）",
}
UNSUPPORTED_MODES = ("mark", "drop")

EXTRACTIVE = {
    "en": "The passage of your files that matches the question best says: “{quote}”",
    "ja": "ファイルの中で質問に最もよく合う箇所：「{quote}」",
}


@dataclass(frozen=True)
class AskSettings:
    k: int = 5  # passages offered to the model
    grounding: Mapping[str, grounding.GroundingSettings] = field(default_factory=lambda: grounding.BY_LANGUAGE)
    answer_tokens: int = 512
    temperature: float = 0.0
    nearest: int = 3
    extractive_fallback: bool = True
    unsupported: str = "mark"  # or "drop": leave unsupported sentences out of the answer (it says so)
    rewrite: str = "lexical"  # follow-ups made standalone by "model" (a capable one) or by carried terms


class Asker:
    def __init__(self, retriever: Retriever, catalog: Catalog, llm: Callable[[], LLM], verifier: Verifier,
                 settings: AskSettings | None = None) -> None:
        self.retriever = retriever
        self.catalog = catalog
        self.llm = llm  # called only when the model is needed: loading it is lazy
        self.verifier = verifier
        self.settings = settings or AskSettings()

    def retrieve(self, question: str, scope: Scope | None = None) -> tuple[list[Hit], grounding.Evidence]:
        hits = self.retriever.search(question, self.settings.k, scope=scope)
        return hits, grounding.assess(question, hits, self.catalog)

    def standalone(self, question: str, turns: tuple[followup.Turn, ...]) -> followup.Standalone:
        """What to search for ``question`` in its conversation (itself when it stands alone)."""
        model = self.llm if self.settings.rewrite == "model" else None
        return followup.standalone(question, turns, self.catalog.document_frequencies, model)

    def ask(self, question: str, on_token: Callable[[str], None] | None = None,
            options: AskOptions | None = None) -> Answer:
        s = self.settings
        opts = options or AskOptions()
        lang = prompt.language(question)
        started = time.perf_counter()
        if opts.scope.paths:
            return self.read_whole(question, opts, on_token)
        made_standalone = self.standalone(question, opts.turns)
        searched = made_standalone.text
        hits, evidence = self.retrieve(searched, opts.scope)
        timings = {"retrieve": time.perf_counter() - started}

        def made(answer: Answer) -> Answer:
            answer.searched, answer.conversation, answer.scope = searched, opts.conversation, opts.scope
            return answer

        if not grounding.supports(evidence, s.grounding.get(lang, grounding.BY_LANGUAGE["en"])):
            timings["total"] = time.perf_counter() - started
            return made(Answer(question, NOT_FOUND[lang], grounded=False, nearest=hits[: s.nearest],
                               timings=timings))
        llm = self.llm()
        by_model = made_standalone.by == "model"
        asked = searched if by_model else question  # a carried-terms query is not a question
        earlier = tuple(t.question for t in opts.turns[-2:]) if made_standalone.by == "carried" else ()
        # what the user stated: the question with its carried terms, or (the model's rewrite may add details the
        # check would take as given) the question and the earlier ones
        stated = " ".join([*(t.question for t in opts.turns[-2:]), question]) if by_model else searched
        messages, sources = self.prompt(asked, hits, evidence, llm, earlier)
        timings["prompt"] = time.perf_counter() - started - timings["retrieve"]
        text, first_at = "", time.perf_counter()
        stream = llm.stream(messages, max_tokens=s.answer_tokens, temperature=s.temperature)
        try:
            for piece in stream:
                if not text:
                    first_at = time.perf_counter()
                    timings["first_token"] = first_at - started
                text += piece
                if on_token is not None:
                    on_token(piece)
                if (loop := looping.repeating_from(text)) is not None:
                    text = text[:loop]  # the model only repeats itself from here: stop it, keep what it said once
                    break
        finally:
            close = getattr(stream, "close", None)  # a generator: stops the model now (and frees its lock)
            if close is not None:
                close()
        timings["generate"] = time.perf_counter() - first_at  # after the first token
        text = text.strip()
        cite_start = time.perf_counter()
        citations, sentences = self.judge(text, sources, stated)
        answer = Answer(question, text, grounded=bool(citations), citations=citations, model=llm.model_id,
                        sentences=sentences, notice=model_notice(llm.model_id))
        if not citations and s.extractive_fallback:
            answer = self.extractive(question, sources, llm.model_id, lang)
        elif answer.grounded and s.unsupported == "drop":
            drop_unsupported(answer, lang)
        if not answer.grounded:
            answer.answer = NOT_FOUND[lang]
            answer.nearest = hits[: s.nearest]
            answer.sentences, answer.left_out = [], []  # they were the model's text, which is not shown
            answer.notice = None  # nor is anything the model wrote
        timings["cite"] = time.perf_counter() - cite_start
        timings["total"] = time.perf_counter() - started
        answer.timings = timings
        return made(answer)

    def read_whole(self, question: str, opts: AskOptions, on_token: Callable[[str], None] | None) -> Answer:
        """A request about the named files as wholes (``whole``): every passage read, in passes."""
        started = time.perf_counter()
        lang = prompt.language(question) if question.strip() else "en"
        documents = [(path, whole.document_hits(self.catalog, path)) for path in opts.scope.paths]
        missing = [path for path, hits in documents if not hits]
        if missing:
            raise NotInIndex(f"not an indexed file: {', '.join(missing)}")
        llm = self.llm()
        read = [whole.read_whole(question, path, hits, llm, self._verified, answer_tokens=self.settings.answer_tokens,
                                 lang=lang) for path, hits in documents]
        answer = whole.assemble(question, read, lang, llm.model_id, started)
        if on_token is not None:
            on_token(answer.answer)
        # a follow-up ("and what does it say about X?") carries the files' names, as if the user had said them
        named = " ".join(dict.fromkeys(name for path, hits in documents for name in (
            path.rsplit("/", 1)[-1].rsplit(".", 1)[0].replace("_", " "), hits[0].title or "") if name))
        answer.searched, answer.conversation, answer.scope = f"{question} {named}", opts.conversation, opts.scope
        return answer

    def prompt(self, question: str, hits: list[Hit], evidence: grounding.Evidence, llm: LLM,
               earlier: tuple[str, ...] = ()) -> tuple[list[Message], list[Source]]:
        """The messages the model gets: the relevant passages, numbered, within its context window (and the
        conversation's earlier questions, for a follow-up)."""
        return prompt.build(question, grounding.relevant(hits, evidence), context_length=llm.context_length,
                            answer_tokens=self.settings.answer_tokens, count=llm.count_tokens, earlier=earlier)

    def judge(self, text: str, sources: list[Source], question: str) -> tuple[list[Citation], list[Sentence]]:
        """Verified citations for the answer's sentences, and each sentence's verdict."""
        citations: list[Citation] = []
        where: dict[tuple[str, int | None, str], int] = {}
        sentences: list[Sentence] = []
        for match, verdict in support.judge_answer(text, sources, question):
            citation = None
            if match.candidate is not None and verdict.verdict != "unsupported":
                citation = self._verified(sources[match.candidate.n - 1], cite.quote_of(match.candidate.text),
                                          match.claim)
            if match.candidate is None and verdict.verdict == "supported":  # it states nothing ("資料：", a question)
                sentences.append(Sentence(match.start, match.end, match.claim, "supported"))
                continue
            if citation is None:  # nothing in the files (as they are now) bears it out
                sentences.append(Sentence(match.start, match.end, match.claim, "unsupported"))
                continue
            cited: tuple[int, ...] = ()
            if match.support >= cite.MIN_SUPPORT:  # a citation is shown only for a close match
                key = (citation.path, citation.line_start, citation.quote)
                if key not in where:
                    where[key] = len(citations)
                    citations.append(citation)
                cited = (where[key],)
            sentences.append(Sentence(match.start, match.end, match.claim, verdict.verdict, cited, verdict.missing))
        return citations, sentences

    def extractive(self, question: str, sources: list[Source], model: str, lang: str) -> Answer:
        best = cite.best_passage(question, sources)
        if best is not None:
            quote = cite.quote_of(best.text)
            citation = self._verified(sources[best.n - 1], quote, "")
            if citation is not None:
                text = EXTRACTIVE[lang].format(quote=quote) + f" [{best.n}]"
                quoted = Sentence(0, len(text), quote, "supported", (0,))  # the file's own words, verified
                return Answer(question, text, grounded=True, citations=[citation], model=model, sentences=[quoted])
        return Answer(question, "", grounded=False, model=model)

    def _verified(self, source: Source, quote: str, claim: str) -> Citation | None:
        hit = source.hit
        place = self.verifier.locate(hit.path, hit.doc_key, hit.page, hit.line_start, quote, sheet=hit.sheet,
                                     slide=hit.slide)
        if place is None:
            return None
        return Citation(n=source.n, path=hit.path, page=place.page, line_start=place.line_start,
                        line_end=place.line_end, quote=quote, claim=claim, title=hit.title, sheet=place.sheet,
                        slide=place.slide, ocr=place.ocr)


def drop_unsupported(answer: Answer, lang: str) -> None:
    """Remove the unsupported sentences from the answer's text, say that something was left out, and move the
    other sentences' offsets to the new text."""
    dropped = [s for s in answer.sentences if s.support == "unsupported"]
    if not dropped:
        return
    text = answer.answer
    kept: list[Sentence] = []
    pieces: list[str] = []
    pos = shift = 0
    for s in answer.sentences:
        if s.support == "unsupported":
            pieces.append(text[pos : s.start])
            end = s.end
            before = "".join(pieces)
            while end < len(text) and text[end] in " \t" and (not before or before[-1].isspace()):
                end += 1  # the space after it, where one is left before it: no double space in its place
            pos = end
            shift += end - s.start
            continue
        kept.append(Sentence(s.start - shift, s.end - shift, s.text, s.support, s.citations, s.missing))
    pieces.append(text[pos:])
    body = "".join(pieces)
    note = LEFT_OUT[lang].format(n=len(dropped))
    # tidy the gaps the removed sentences left, keeping the offsets of the kept ones exact
    answer.answer = body.rstrip() + ("\n\n" if body.strip() else "") + note
    answer.sentences = kept
    answer.left_out = [s.text for s in dropped]
