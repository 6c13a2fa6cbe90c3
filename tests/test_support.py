"""Per-sentence support: every sentence of an answer gets a verdict, through the real answer path (real parsing,
catalog and verification) with scripted model outputs that mix copied, paraphrased and invented sentences."""

from __future__ import annotations

import pytest

from ragd.index.answer import answering, copies, support
from ragd.index.answer.ask import LEFT_OUT
from ragd.index.answer.terms import stem
from tests.fakes import ScriptedLLM
from tests.test_answer import World


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    w.write("crisis.md", "# 1973 oil crisis\n\n"
            "The crisis began in October 1973 when the members of the Organization of Arab Petroleum Exporting "
            "Countries proclaimed an oil embargo.\n"
            "By the end of the embargo in March 1974, the price of oil had risen nearly 400%.\n"
            "The embargo was not lifted for the United States until March 1974.\n")
    w.write("東京.md", "# 図書館\n\n小石川の図書館は1921年に開館し、毎週火曜日に休館する。\n館長は山田花子である。\n")
    from ragd.connectors.files import FilesConnector
    from ragd.index.isolate import ParsePool
    from ragd.index.pipeline import Indexer
    from ragd.index.store.embed_cache import EmbeddingCache

    Indexer(w.catalog, EmbeddingCache(tmp_path / "cache2.sqlite"), w.vectors, w.embedder,
            lambda: ParsePool(workers=1, timeout_s=30), chunk_tokens=64).run([FilesConnector(w.root)])
    yield w
    w.pool.close()


def verdicts(answer):
    return [(s.text, s.support) for s in answer.sentences]


def test_copied_and_paraphrased_sentences_are_supported_invented_ones_are_not(world):
    llm = ScriptedLLM(
        "The crisis began in October 1973 when OAPEC members proclaimed an oil embargo [1]. "
        "By the embargo's end in March 1974 the oil price had risen by nearly 400% [1]. "
        "The embargo was intended to promote oil exploration in Norway and Canada. "
        "Strikes followed in Germany, Italy and the Netherlands.")
    answer = world.asker(llm).ask("What caused the 1973 oil crisis?")
    got = verdicts(answer)
    assert [v for _, v in got] == ["supported", "supported", "unsupported", "unsupported"], got
    assert answer.grounded  # the files hold evidence, though not every sentence is supported
    first = answer.sentences[0]
    assert answer.answer[first.start : first.end].startswith("The crisis began in October 1973")
    assert answer.citations[first.citations[0]].quote.startswith("The crisis began in October 1973")
    assert not answer.sentences[2].citations  # nothing is cited for an invented sentence
    assert 0.3 < answer.supported_share < 0.7  # type: ignore[operator]
    js = answer.to_json()
    assert [s["support"] for s in js["sentences"]] == [v for _, v in got] and js["left_out"] == []


@pytest.mark.parametrize("sentence, missing", [
    ("The crisis began in October 1975 when OAPEC members proclaimed an oil embargo.", "1975"),  # number
    ("The crisis began in October 1973 when Iranian members proclaimed an oil embargo.", "Iranian"),  # name
    ("The embargo was lifted for the United States in March 1974.", "the source's negation"),  # negation lost
    ("The crisis did not begin in October 1973 with an oil embargo by OAPEC.", "negation"),  # negation added
])
def test_a_changed_detail_in_a_copied_sentence_is_caught(world, sentence, missing):
    answer = world.asker(ScriptedLLM(f"The members proclaimed an oil embargo in October 1973 [1]. {sentence}")).ask(
        "When did the 1973 oil crisis begin?")
    last = answer.sentences[-1]
    assert last.support == "partly" and missing in last.missing, verdicts(answer)
    assert answer.sentences[0].support == "supported"


def test_japanese_sentences_get_verdicts_too(world):
    llm = ScriptedLLM("小石川の図書館は1921年に開館した[1]。図書館は毎週火曜日に休館する[1]。"
                      "館長は田中一郎である。図書館は1950年に火事で焼けた。")
    answer = world.asker(llm).ask("小石川の図書館はいつ開館しましたか？")
    got = verdicts(answer)
    assert [v for _, v in got][:2] == ["supported", "supported"], got
    assert got[2][1] != "supported" and got[3][1] != "supported", got  # an invented name, an invented fire


def test_drop_leaves_unsupported_sentences_out_and_says_so(world):
    text = ("The crisis began in October 1973 when OAPEC members proclaimed an oil embargo [1]. "
            "The embargo was intended to promote oil exploration in Norway and Canada. "
            "By the embargo's end in March 1974 the oil price had risen by nearly 400% [1].")
    answer = world.asker(ScriptedLLM(text), unsupported="drop").ask("What caused the 1973 oil crisis?")
    assert "Norway" not in answer.answer and answer.answer.endswith(LEFT_OUT["en"].format(n=1))
    assert "  " not in answer.answer  # no double space where the sentence was
    assert answer.left_out == ["The embargo was intended to promote oil exploration in Norway and Canada."]
    assert [s.support for s in answer.sentences] == ["supported", "supported"]
    for s in answer.sentences:  # offsets point into the new text
        assert answer.answer[s.start : s.end].startswith(s.text[:20])
    assert answer.supported_share is not None and answer.supported_share < 1.0


def test_the_extractive_fallback_is_one_supported_sentence(world):
    answer = world.asker(ScriptedLLM("Zebras are striped horses of the savannah.")).ask(
        "When was the Skerry Point lighthouse first lit?")
    assert answer.grounded and len(answer.sentences) == 1
    assert answer.sentences[0].support == "supported" and answer.sentences[0].citations == (0,)
    assert answer.supported_share == 1.0


def test_a_refusal_has_no_sentences():
    from ragd.index.answer.models import Answer

    refused = Answer("q", "Your files do not seem to contain the answer.", grounded=False)
    assert refused.supported_share is None and refused.to_json()["sentences"] == []


def test_details_numbers_names_negation():
    d = support.details("In 1973 OPEC did not raise prices in Germany's ninth month; 1,200 barrels.")
    assert {"1973", "1200", "9"} <= d.numbers and d.negated
    assert {written for _, written in d.names} >= {"OPEC", "Germany"}
    assert support.missing_details("OAPEC proclaimed it.", "The Organization of Arab Petroleum Exporting "
                                   "Countries proclaimed it.") == []
    assert not support.details("トマトは少ない。").negated and support.details("トマトは植えなかった。").negated


def test_the_terminal_marks_what_is_not_supported():
    from ragd.daemon.cli.answer_text import marked_answer

    text = "Tomatoes went in on 9 April [1]. They were watered by robots. Beans came in 1975."
    answer = {"answer": text, "sentences": [
        {"start": 0, "end": 32, "support": "supported", "missing": []},
        {"start": 33, "end": 62, "support": "unsupported", "missing": []},
        {"start": 63, "end": 82, "support": "partly", "missing": ["1975"]}]}
    out = marked_answer(answer)
    assert out.startswith("Tomatoes went in on 9 April [1]. ")
    assert "They were watered by robots." in out and "[not found in your files]" in out
    assert out.index("robots") < out.index("[not found in your files]") < out.index("Beans")
    assert out.endswith("Beans came in 1975. [only partly found: 1975 not in the source]") or \
        "[only partly found: 1975 not in the source]" in out


def test_history_keeps_the_verdicts_and_reads_an_older_file(tmp_path):
    import sqlite3

    from ragd.index.answer.history import History
    from ragd.index.answer.models import Answer, Sentence

    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as conn:  # the table as it was before per-sentence support
        conn.execute("CREATE TABLE history (id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, question TEXT "
                     "NOT NULL, answer TEXT NOT NULL, grounded INTEGER NOT NULL, model TEXT NOT NULL DEFAULT '', "
                     "citations TEXT NOT NULL DEFAULT '[]', timings TEXT NOT NULL DEFAULT '{}')")
        conn.execute("INSERT INTO history (time, question, answer, grounded) VALUES (1, 'q', 'a', 1)")
    with History(old, readonly=True) as reader:
        assert reader.recent()[0].sentences == []
    answer = Answer("q2", "Made up.", grounded=True, sentences=[Sentence(0, 8, "Made up.", "unsupported")])
    with History(old) as writer:
        writer.record(answer)
        entries = writer.recent()
    assert entries[0].sentences == [answer.sentences[0].to_json()] and entries[1].sentences == []


def test_an_answer_not_kept_leaves_no_verdicts_behind(world):
    answer = world.asker(ScriptedLLM("Zebras are striped horses of the savannah."), extractive_fallback=False).ask(
        "When was the Skerry Point lighthouse first lit?")
    assert not answer.grounded and answer.sentences == [] and answer.supported_share is None


def test_numbered_lists_are_not_cut_after_their_numbers():
    from ragd.index.answer import cite

    claims = cite.claims("To light the lamp:\n1. Trim the wick.\n2. Fill the oil.")
    assert [c.text for c in claims][-1] == "2. Fill the oil." and all(len(c.text) > 3 for c in claims)


def test_details_that_are_not_details():
    assert support.missing_details("It is one of the largest towers.", "It is among the largest towers.") == []
    assert support.missing_details("It reads PDFs.", "It reads PDF files.") == []
    assert support.missing_details("Not only is it old, it is tall.", "It is old and tall.") == []
    assert support.missing_details("編集しなければならない。", "編集する必要がある。") == []
    assert support.missing_details("Paris is the capital.", "Lyon is the capital.") == ["Paris"]  # first word too


def test_an_invented_ending_glued_to_the_questions_words_is_caught(world):
    """Most of the sentence is the question's own words (so it shares terms with the source), but what it adds
    is not in the passage."""
    llm = ScriptedLLM("The members of the Organization of Arab Petroleum Exporting Countries proclaimed an oil "
                      "embargo to punish bread smugglers.")
    answer = world.asker(llm).ask("Why did the members of the Organization of Arab Petroleum Exporting Countries "
                                  "proclaim an oil embargo?")
    only = answer.sentences[0]
    assert only.support == "partly" and {"bread", "smugglers"} <= set(only.missing), verdicts(answer)


def test_a_dropped_not_is_caught_only_where_the_claim_says_what_was_negated():
    source = "The embargo was not lifted for the United States until March 1974."
    assert "the source's negation" in support.missing_details("The embargo was lifted for the United States.", source)
    morality = "This assumes that common morality does not have a prohibition on deceit in such situations."
    assert "the source's negation" in support.missing_details(  # "not have a prohibition": prohibition is negated
        "Common morality has a prohibition on deceit in such situations.", morality)
    assert "the source's negation" in support.missing_details("The company has a license.",
                                                              "The company doesn't have a license.")
    long_source = "Smaller markets would not grow large enough for an affiliate until the advent of digital television."
    claim = "Digital television allowed smaller markets to have an affiliate."
    assert "the source's negation" not in support.missing_details(claim, long_source)


def test_words_about_the_answer_itself_are_not_claims():
    share, lacking = support.new_terms_missing("The answer to this question is: the lamp burned whale oil.",
                                               "What did the lamp burn?", "Its lamp burned whale oil until 1901.")
    assert share == 1.0 and lacking == []
    share, lacking = support.new_terms_missing("The keeper was required to light it.", "Who lit it?",
                                               "A requirement of the keeper was to light it at dusk.")
    assert lacking == []  # required / requirement


def test_a_dropped_japanese_negation_is_caught_where_it_negates_the_claims_word():
    source = "米国への禁輸は3月まで解除されなかった。"
    assert "the source's negation" in support.missing_details("米国への禁輸は解除された。", source)
    long_source = "梅雨の雨量は年によって大きく変動し、150mm程度しか雨が降らなかったりする。"
    assert support.missing_details("梅雨の雨量は年によって大きく変動する。", long_source) == []


def test_a_sentence_with_a_third_of_its_terms_elsewhere_is_only_partly_supported():
    source = "The lighthouse keeper lit the lamp at dusk every evening."
    assert support.judge("The keeper lit the lamp at dusk.", source, 1.0).verdict == "supported"
    assert support.judge("The keeper lit the lamp, painted red by sailors.", source, 0.62).verdict == "partly"


def test_yes_or_no_is_not_a_negation():
    assert not support.details("A decision problem's answer is yes or no.").negated
    claim = "A sorting task is a decision problem, but that is not the right answer."
    assert "negation" in support.missing_details(claim, "A decision problem's answer is yes or no.")


@pytest.mark.parametrize("sentence, labels", [
    ("This refers to the lamp that burned whale oil lighthouse.md (lines 3-4)", ["lighthouse.md"]),
    ("1901年に閉鎖された灯台.md (lines 3-4)", ["灯台.md"]),
    ("灯台.md (lines 3-4)の灯りは鯨油を燃やした。", ["灯台.md"]),
])
def test_words_glued_to_a_source_header_are_caught(sentence, labels):
    source = "Its lamp burned whale oil until 1901."
    assert "file reference" in support.header_misuse(sentence, source, source, labels)


@pytest.mark.parametrize("sentence", [
    "The source is: lighthouse.md (lines 3-4)\nIts lamp burned whale oil until 1901.",
    "1. Lighthouse > History (lines 3-4)\nIts lamp burned whale oil until 1901. A keeper lit it at du",
    "灯台.md (lines 3-4)\n灯台の灯りは1901年まで鯨油を燃やした。",
])
def test_a_header_on_its_own_line_over_a_true_copy_is_a_citation(sentence):
    en, ja = "Its lamp burned whale oil until 1901.", "灯台の灯りは1901年まで鯨油を燃やした。"
    passage, source = f"{en} A keeper lit it at dusk.\n{ja}", ja if "灯台の" in sentence else en
    assert support.header_misuse(sentence, source, passage, ["lighthouse.md", "Lighthouse > History", "灯台.md"]) == []


def test_a_changed_word_in_a_text_copied_under_its_header_is_a_misquote():
    source, labels = "Its lamp burned whale oil until 1901.", ["lighthouse.md"]
    quote = "lighthouse.md (lines 3-4)\nIts lamp burned olive oil until 1901."
    assert support.header_misuse(quote, source, source, labels) == ["olive"]
    assert support.judge(quote, source, 0.9, labels=labels).verdict == "partly"
    ja = "灯台の灯りは1901年まで鯨油を燃やした。"
    assert "菜種" in support.header_misuse("灯台.md (lines 3-4)\n灯台の灯りは1901年まで菜種油を燃やした。", ja, ja,
                                            ["灯台.md"])


def test_a_number_the_passage_writes_as_a_word_is_in_the_passage():
    passage = "The Lunar Module would take two men to the lunar surface."
    assert support.new_terms_missing("The Lunar Module would take 2 men to the surface.", "What did the LM take?",
                                     passage) == (1.0, [])
    assert support.new_terms_missing("The Lunar Module would take 3 men to the surface.", "What did the LM take?",
                                     passage) == (0.8, ["3"])


def test_words_about_the_answer_and_a_plural_acronym_are_no_details():
    photocytes = "The nearer side holds germ cells and photocytes that produce bioluminescence."
    judged = support.judge('The answer to the question is: "Photocytes produce bioluminescence."', photocytes, 0.6,
                           question="What do photocytes produce?", passage=photocytes)
    assert judged.verdict == "supported"
    ccm = "These mechanisms are called carbon dioxide concentrating mechanisms, or CCMs."
    assert support.missing_details("They are called carbon dioxide concentrating mechanisms, or CCMs.", ccm) == []
    assert support.missing_details("They are called carbon dioxide concentrating mechanisms, or CDMs.", ccm) == [
        "CDM"]


def test_a_line_that_only_names_sources_states_nothing_to_support():
    labels = ["日本共産党.txt", "日本共産党", "Apollo_program.md", "Apollo program > Background"]
    for line in ("日本共産党.txt (line 91)\n日本共産党.txt (line 92)", "資料：",
                 "1. Apollo program > Background (lines 3-4)", "Sources: Apollo_program.md (lines 1-3)",
                 "The answer is:", "The answer to this question is:", "答えは："):
        assert support.names_only_sources(line, labels), line
    for claim in ("日本共産党は1922年に結成された。", "The Apollo program > Background (lines 3-4) began in 1961.",
                  "The answer is: Apollo program.", "The original program was:", "The answer is: 2."):
        assert not support.names_only_sources(claim, labels), claim
    assert support.asks("Question: What does chlorophyll absorb?") and support.asks("梅雨の期間は？")
    assert support.asks("コンゴ共和国で1934年に建設された鉄道の名前は何か.") and support.asks("いつ開業したか")
    assert not support.asks("鉄道は1934年に建設された。") and not support.asks("何度も試みたが、失敗に終わったのか。")
    assert not support.asks("アニュッネッパスは、路線を何というかとなり、" * 8 + "路線を何というか")  # a loop cut off
    assert not support.asks("Chlorophyll absorbs red and blue light.")
    assert support.names_only_sources("Apollo_program.md (lines 4-5)", labels, [(3, 9), (40, 44)])
    assert not support.names_only_sources("Apollo_program.md (line 34)", labels, [(3, 9), (40, 44)])  # no source there
    quote = "Apollo_program.md (line 34)\nThe program began in 1961."
    assert support.places_not_given(quote, [(3, 9), (40, 44)]) == ["line 34"]
    assert support.places_not_given(quote, []) == []  # the sources' lines not known
    source = "The program began in 1961."
    assert support.quoted_from_elsewhere(quote, (40, 44)) == ["line 34"]  # the quote is at 40-44, not at 34
    assert support.quoted_from_elsewhere(quote, (30, 39)) == []
    assert support.quoted_from_elsewhere("Apollo_program.md (line 34)", (40, 44)) == []  # no quote under it
    assert support.quoted_from_elsewhere(f"{quote} (line 42)", (40, 44)) == ["line 34"]  # the header's place counts
    assert "line 34" in support.judge(quote, source, 1.0, labels=labels, lines=[(3, 9)]).missing
    assert "line 34" not in support.judge(quote, source, 1.0, labels=labels, lines=[(30, 39)]).missing


def test_an_answer_line_that_only_names_its_source_is_not_marked(world):
    llm = ScriptedLLM("Sources:\n\ncrisis.md\n\nThe crisis began in October 1973 when OAPEC members proclaimed an "
                      "oil embargo [1]. Strikes followed in Germany, Italy and the Netherlands.")
    answer = world.asker(llm).ask("What caused the 1973 oil crisis?")
    got = verdicts(answer)
    assert got[0] == ("Sources:", "supported") and len(got) == 4, got
    assert [s.citations for s in answer.sentences[:2]] == [(), ()]  # lines that state nothing cite nothing
    assert [v for _, v in got[1:]] == ["supported", "supported", "unsupported"], got


def test_what_a_passage_is_about_and_words_presenting_it_count_for_the_question():
    paper = "2019年時点で、日刊紙・日曜版を合わせた購読者数が100万部を割り込んだ。"
    restated = "日本共産党の機関紙は、日刊紙・日曜版を合わせた購読者数が100万部を割り込んだ。"
    assert answering.off_the_question(restated, paper, "日本共産党の機関紙は？", paper) == [
        "日本", "共産", "党", "機関"]
    assert answering.off_the_question(restated, paper, "日本共産党の機関紙は？", paper, about="日本共産党") == []
    oil = "BP統計によれば、1970年の石油の可採年数は約35年であった。"
    reserves = "1970年の石油の可採年数は"
    assert support.new_terms_missing("資料は、1970年の石油の可採年数である。", reserves, oil) == (1.0, [])
    assert copies.said_of_another("質問：BP統計によれば、1970年の石油の可採年数は約35年であった。", oil) == []
    labels = ["Computational_complexity_theory.txt"]
    assert support.names_only_sources("Computational_complexity_theory.txt (line 106)\nComput", labels)
    assert support.names_only_sources("Computational_complexity_theory.txt (line 106)\nComputational_c (lin", labels)


def test_a_katakana_word_the_passage_does_not_hold_is_a_detail():
    radio = "RKBのラジオカーの愛称はスナッピーである。"
    assert support.missing_details("RKBのラジオカーの愛称はスジャータである。", radio) == ["スジャータ"]
    assert support.missing_details("RKBのラジオカーはスナッピーと呼ばれる。", radio) == []


def test_a_bare_number_is_matched_to_the_source_sentence_holding_it():
    from ragd.index.answer.models import Source
    from ragd.index.models import Hit

    text = "The LM was built by Grumman. The Lunar Module would take two men to the lunar surface and back."
    sources = [Source(1, Hit("c1", "apollo.md", text, 0.0, None, 1, 1))]
    question = "How many men would the LM take to the lunar surface?"
    (match, judged), = support.judge_answer("The answer is: 2.", sources, question)
    assert judged.verdict == "supported" and match.candidate and "two men" in match.candidate.text
    (_, judged), = support.judge_answer("The answer is: 3.", sources, question)
    assert judged.verdict == "unsupported"  # no sentence holds it


def test_odd_input_neither_breaks_nor_passes_the_checks():
    commit = "3f2a9c0d41e7b8a65c2d9e0f1a3b4c5d6e7f8091"
    # "İ" is two characters in lower case: the copied clause's place must not shift
    assert copies.said_of_another(f"The fix for İzmir and İstanbul users is {commit}",
                                  f"The fix landed in commit {commit} on Monday.") == []
    labels = ["Apollo program", "apollo.md", "Lyon_guide.txt"]
    for answer in ("Apollo", "Apollo program.", "Lyon_guide"):  # a title alone may be an answer: it is judged
        assert not support.names_only_sources(answer, labels), answer
    assert support.names_only_sources("apollo.md", labels)
    army = "The army had 40,000 men and 1,000 horses."
    assert answering.off_the_question("The answer is: 1,000.", army, "How many men did the army have?", army) == [
        "1000"]
    assert answering.off_the_question("The answer is: 40,000.", army, "How many men did the army have?", army) == []
    assert not support.names_only_sources("See doc.txt (line " + "1" * 5000 + ")", ["doc.txt"], [(1, 9)])


def test_a_sentence_cut_off_before_it_says_anything_states_nothing():
    naphtha = "ナフサは沸点が30 - 200℃程度の炭化水素であり、粗製ガソリンとも呼ばれる。"
    question = "ナフサの沸点は？"
    known = f"{naphtha}\n{question}"
    for cut in ("ナ", "ナフサのガ", "それで、ナフ", "資料は、ナ", "ナフサは沸点が30", "ナフサとも呼"):
        assert support.cut_before_a_claim(cut, known), cut
    for claim in ("ナフサは沸点が31",  # no number of the passage begins so: a number of its own
                  "ガスのエ",  # a word the passage does not hold, before the one begun
                  "ナフサのデ",  # begun as no word of the passage begins
                  "ナフサは沸点が高い。",  # a whole sentence, however short
                  "ナフサは沸点が30 - 200℃程度の炭",  # long enough to say something
                  "答えは30"):  # an answer, however short
        assert not support.cut_before_a_claim(claim, known), claim
    apollo = "Apollo 17 was the last mission."
    assert support.cut_before_a_claim("The Apollo 1", apollo) and support.cut_before_a_claim("Apollo", apollo)
    assert not support.cut_before_a_claim("The Gemini 1", apollo)
    assert not support.cut_before_a_claim("The Apollo 2", apollo)
    assert not support.cut_before_a_claim("The answer is: Apollo 1", apollo)
    assert not support.cut_before_a_claim("Apollo 17 was the first", apollo)  # four words: a claim begun
    for claim in ("Not crewed", "A: 1", "Answer 1", "Source: Apollo 1"):  # a negation, an answer with its label
        assert not support.cut_before_a_claim(claim, apollo), claim
    assert not support.cut_before_a_claim("ナフサは沸点がない", known)


def test_a_fragment_and_a_pronoun_are_not_marked_but_an_invented_fragment_is():
    from ragd.index.answer.models import Source
    from ragd.index.models import Hit

    text = "ナフサは沸点が30 - 200℃程度の炭化水素であり、粗製ガソリンとも呼ばれる。"
    sources = [Source(1, Hit("c1", "石油.txt", text, 0.0, None, 1, 1))]
    judged = support.judge_answer("ナフサは粗製ガソリンとも呼ばれる。それで、ナフ", sources, "ナフサの沸点は？")
    assert [j.verdict for _, j in judged] == ["supported", "supported"], judged
    (_, judged_one), = support.judge_answer("ガスのエ", sources, "ナフサの沸点は？")
    judged = support.judge_answer("ナ\n\nナフサは粗製ガソリンとも呼ばれる。", sources, "ナフサの沸点は？")
    assert judged[0][1].verdict != "supported"  # cut off only where the answer stops
    assert judged_one.verdict != "supported"
    # これ (此れ to the analyser) is no detail that the files must hold, nor is ください (下さる)
    (_, judged_one), = support.judge_answer("これは、粗製ガソリンとも呼ばれる。", sources, "ナフサの別名は？")
    assert judged_one.verdict == "supported" and "此れ" not in judged_one.missing, judged_one
    _, lacking = support.new_terms_missing("それらは粗製ガソリンと呼んでください。", "ナフサの別名は？", text)
    assert lacking == [], lacking



def test_a_number_or_name_from_further_off_in_the_passage_is_not_borne_out_by_the_source_sentence():
    passage = ("2008年9月25日、志位和夫が委員長として会見した。党は多くの地方選挙で候補を立てた。"
               "支部の会議は毎月開かれる。2010年の第22回参議院議員通常選挙では、消費税増税発言などを厳しく批判した。")
    source = "2010年の第22回参議院議員通常選挙では、消費税増税発言などを厳しく批判した。"
    joined = "2008年9月25日は、2010年の第22回参議院議員通常選挙では、消費税増税発言などを厳しく批判した。"
    assert {"2008", "25"} <= set(support.missing_details(joined, source, passage=passage))
    assert support.missing_details(source, source, passage=passage) == []
    beside = "支部の会議は毎月開かれる。2010年の選挙では、党は候補を立てた。"
    said = "2010年の選挙では、党は候補を立てた。"
    assert support.missing_details("2010年の選挙では、支部の会議で党は候補を立てた。", said,
                                   passage=beside) == []  # the sentence before holds it
    einstein = ("Albert Einstein was a German physicist. He developed relativity. He also worked on quantum theory. "
                "He was born in Ulm in 1879.")
    born = "He was born in Ulm in 1879."
    assert support.missing_details("Einstein was born in Ulm in 1879.", born, passage=einstein) == []  # a name
    assert support.missing_details("Einstein was born in Ulm in 1879 and worked on quantum theory in 1905.", born,
                                   passage="In 1905 he wrote four papers. " + einstein) == ["1905"]


def test_an_approximate_number_may_be_qualified_by_another_word_and_an_r_doubled_before_ed_is_one_stem():
    oil = "By March 1974, the price of oil had risen to nearly $12 globally."
    assert support.judge("The price of oil in March 1974 was approximately $12.", oil, 0.9,
                         question="What was the price of oil in March 1974?", passage=oil).verdict == "supported"
    assert support.new_terms_missing("It was approximately $12.", "", "It was $12.")[1] == ["approximately"]
    assert stem("occurred") == stem("occur") and stem("referring") == stem("refer")
    assert stem("called") != stem("cal")  # a doubled l stays: "called" is not "cal"


def test_a_sentence_that_says_its_subject_is_itself_states_nothing_beyond_it():
    texts = "The traveling salesman problem is a function problem. How is the size of the input measured?"
    assert support.restates_itself("The traveling salesman problem is a special case of the traveling salesman "
                                   "problem.", texts)
    assert support.restates_itself("The size of the input is the size of the input itself.", texts)
    assert not support.restates_itself("The traveling salesman problem is a decision problem.", texts)  # a claim
    assert not support.restates_itself("These machines are the machines that are not deterministic machines.",
                                       "deterministic machines")  # a negation
    assert not support.restates_itself("The Zorblax engine is a special case of the Zorblax engine.", texts)
    assert not support.restates_itself("The whale shark is a kind of whale.", "The whale shark is a fish.")
    from ragd.index.answer.models import Source
    from ragd.index.models import Hit

    sources = [Source(1, Hit("c1", "tsp.txt", texts, 0.0, None, 1, 1))]
    judged = support.judge_answer("The traveling salesman problem is a special case of the traveling salesman "
                                  "problem.", sources, "What is the traveling salesman problem?")
    assert [j.verdict for _, j in judged] == ["supported"]
