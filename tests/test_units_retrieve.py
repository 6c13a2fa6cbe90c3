from ragd.index.chunk import embedding_units
from ragd.index.models import Chunk
from ragd.index.retrieve import rrf
from ragd.index.store.catalog import chunk_of, unit_ids


def test_units_are_sentences_with_context_and_tiny_ones_merged():
    text = "Ok. The comb rows beat in waves. Ctenophores are voracious predators of plankton."
    chunk = Chunk(text=text, title="Ctenophora", heading=("Locomotion",))
    assert embedding_units(chunk, 6) == [
        "Ctenophora > Locomotion\nOk. The comb rows beat in waves.",
        "Ctenophora > Locomotion\nCtenophores are voracious predators of plankton.",
    ]


def test_by_default_short_sentences_are_grouped_until_long_enough():
    sentences = [f"Sentence {i} says that the comb rows of ctenophores beat in waves." for i in range(9)]
    units = embedding_units(Chunk(text=" ".join(sentences)))
    assert 1 < len(units) < len(sentences)  # fewer vectors than sentences, but not one for the whole chunk
    assert " ".join(units) == " ".join(sentences)  # nothing lost, nothing repeated, in order
    assert embedding_units(Chunk(text=" ".join(sentences)), 1) == sentences


def test_a_chunk_without_sentences_is_one_unit():
    assert embedding_units(Chunk(text="| a | b |")) == ["| a | b |"]


def test_unit_ids_map_back_to_their_chunk():
    ids = unit_ids("abc123", 3)
    assert ids == ["abc123.0", "abc123.1", "abc123.2"]
    assert {chunk_of(u) for u in ids} == {"abc123"}


def test_rrf_rewards_agreement_and_respects_weights():
    fused = rrf([["a", "b", "c"], ["b", "c", "a"]], [1.0, 1.0], k=10)
    assert fused[0][0] == "b"
    fused = rrf([["a", "b"], ["b", "a"]], [1.0, 0.1], k=10)
    assert fused[0][0] == "a"
