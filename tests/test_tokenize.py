from ragd.index import tokenize
from ragd.index.tokenize import fts_query, index_text, query_terms


def test_japanese_is_cut_into_normalised_words_and_particles_dropped():
    terms = index_text("国際連合平和維持活動と呼ばれている").split()
    assert {"国際", "連合", "平和", "維持", "活動", "呼ぶ"} <= set(terms)
    assert "と" not in terms


def test_query_and_text_meet_on_dictionary_forms():
    assert "呼ぶ" in query_terms("何と呼ばれたか")
    assert "呼ぶ" in index_text("彼はそう呼ばれた。").split()


def test_english_text_is_left_for_fts5_and_stopwords_leave_queries():
    assert index_text("The oil crisis began.") == "The oil crisis began."
    assert query_terms("When did the 1973 oil crisis begin?") == ["1973", "oil", "crisis", "begin"]


def test_fts_query_quotes_terms_and_handles_empty():
    assert fts_query('what "is" it?') is None
    assert fts_query('say "hi"') == '"say" OR "hi"'


def test_the_japanese_dictionary_is_released_when_idle_and_loaded_again() -> None:
    import gc
    import os

    def mapped() -> bool:
        with open(f"/proc/{os.getpid()}/maps", encoding="utf-8") as maps:
            return any("system.dic" in line for line in maps)

    assert query_terms("梅雨はいつ始まる") == ["梅雨", "始まる"]
    assert not tokenize.release_idle(60.0)  # just used
    assert tokenize.release_idle(0.0)
    gc.collect()
    assert not mapped()  # the dictionary's 150 MB mapping is gone, not merely unreferenced
    assert query_terms("梅雨はいつ始まる") == ["梅雨", "始まる"] and mapped()
