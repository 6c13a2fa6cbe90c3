from ragd.index.chunk import ChunkSettings, approx_tokens, chunk_document, embed_text
from ragd.index.models import Document, Part
from ragd.index.sentences import sentence_spans, split_sentences


def test_english_sentences_respect_abbreviations_and_initials():
    text = "Dr. Smith went to Washington. He left at 5 p.m. on Monday! J. R. R. Tolkien wrote. Why? Yes."
    assert split_sentences(text) == [
        "Dr. Smith went to Washington.", "He left at 5 p.m. on Monday!", "J. R. R. Tolkien wrote.", "Why?", "Yes."]


def test_japanese_sentences_split_without_spaces_and_keep_closing_quotes():
    text = "梅雨は東アジアの雨季である。日本では「梅雨入り！」という。本当？はい"
    assert split_sentences(text) == ["梅雨は東アジアの雨季である。", "日本では「梅雨入り！」という。", "本当？", "はい"]


def test_sentence_spans_point_into_the_original_text():
    text = "  One.  Two!\n\nThree"
    assert [text[s:e] for s, e in sentence_spans(text)] == ["One.", "Two!", "Three"]


def _doc(*parts: Part) -> Document:
    return Document(parts=list(parts), title="T")


def test_small_paragraphs_under_one_heading_are_packed_with_line_span():
    doc = _doc(Part("Intro", kind="heading", heading=("Intro",), line_start=1, line_end=1),
               Part("alpha beta.", heading=("Intro",), line_start=3, line_end=3),
               Part("gamma delta.", heading=("Intro",), line_start=5, line_end=5),
               Part("Other", kind="heading", heading=("Other",), line_start=7, line_end=7),
               Part("epsilon.", heading=("Other",), line_start=9, line_end=9))
    chunks = chunk_document(doc, approx_tokens, ChunkSettings(max_tokens=50))
    assert [c.text for c in chunks] == ["alpha beta.\n\ngamma delta.", "epsilon."]
    assert [(c.line_start, c.line_end) for c in chunks] == [(3, 5), (9, 9)]
    assert chunks[1].heading == ("Other",)
    assert [c.ordinal for c in chunks] == [0, 1]


def test_long_paragraph_is_cut_between_sentences_with_overlap_and_exact_lines():
    sentences = [f"Sentence number {i} is here." for i in range(12)]
    text = "\n".join(sentences)  # one sentence per source line
    doc = _doc(Part(text, line_start=10, line_end=21))
    chunks = chunk_document(doc, approx_tokens, ChunkSettings(max_tokens=20, overlap=1))
    assert len(chunks) > 3
    for c in chunks:
        assert approx_tokens(c.text) <= 20
        first = int(c.text.split()[2])
        last = int(c.text.split()[-3])
        assert (c.line_start, c.line_end) == (10 + first, 10 + last)
    # neighbours share one sentence
    assert chunks[0].text.splitlines()[-1] == chunks[1].text.splitlines()[0]


def test_chunks_never_cross_pages():
    doc = _doc(Part("page one text.", page=1), Part("page two text.", page=2))
    chunks = chunk_document(doc, approx_tokens, ChunkSettings(max_tokens=100))
    assert [(c.page, c.text) for c in chunks] == [(1, "page one text."), (2, "page two text.")]


def test_an_overlong_sentence_is_hard_split_within_budget():
    text = "word " * 500
    chunks = chunk_document(_doc(Part(text.strip(), line_start=1, line_end=1)), approx_tokens,
                            ChunkSettings(max_tokens=64))
    assert len(chunks) >= 8
    assert all(approx_tokens(c.text) <= 64 for c in chunks)
    assert sum(c.text.count("word") for c in chunks) >= 500


def test_japanese_paragraph_is_split_by_sentences():
    text = "".join(f"これは{i}番目の文です。" for i in range(40))
    chunks = chunk_document(_doc(Part(text)), approx_tokens, ChunkSettings(max_tokens=40, overlap=0))
    assert len(chunks) > 2
    assert all(c.text.endswith("。") for c in chunks)
    assert "".join(c.text for c in chunks) == text


def test_embed_text_uses_title_and_headings_but_not_the_path():
    doc = Document(parts=[Part("body", heading=("A", "B"))], title="Doc")
    (chunk,) = chunk_document(doc)
    assert embed_text(chunk) == "Doc > A > B\nbody"
