"""The checks that hold an answer to its question (``answering``): a sentence that gives the question's answer
from a place that is not about the question, or names another than its source names beside the question's
words."""

from __future__ import annotations

from ragd.index.answer import answering, support


def test_an_answer_taken_from_a_place_that_is_not_about_the_question_is_caught():
    passage = ("Hits of the late 1960s included The Brady Bunch and The Partridge Family. "
               "In 1938, the FCC began a series of investigations into radio networks. "
               "It published its report in 1940.\n\n"
               "Antigone is a tragedy by Sophocles. In the play, Antigone is the daughter of Oedipus.")
    hits = "Hits of the late 1960s included The Brady Bunch and The Partridge Family."
    question = "Who is Antigone's father in the play?"
    assert answering.off_the_question("The answer is: The Partridge Family.", hits, question, passage) == [
        "Antigone", "father", "play"]
    assert support.judge("The answer is: The Partridge Family.", hits, 0.67, question=question,
                         passage=passage).verdict == "partly"
    play = "In the play, Antigone is the daughter of Oedipus."
    assert answering.off_the_question("The answer is: Oedipus.", play, question, passage) == []
    # a statement after "The answer is" claims to answer the question too: its place must be about the question
    assert answering.off_the_question("The answer is: The Brady Bunch was a hit.", hits, question, passage) == [
        "Antigone", "father", "play"]
    assert answering.off_the_question("The answer is that Antigone is the daughter of Oedipus.", play, question,
                                      passage) == []
    fcc = "In 1938, the FCC began a series of investigations into radio networks."
    q = "In what year did the FCC begin an investigation into radio networks?"
    assert answering.off_the_question("The FCC began an investigation into radio networks in 1934.", fcc, q,
                                      passage) == ["1934"]
    assert answering.off_the_question("The FCC began an investigation into radio networks in 1938.", fcc, q,
                                      passage) == []
    # "it" in the source sentence: the sentence before names what the question asks about
    assert answering.off_the_question("The FCC published its report on radio networks in 1940.",
                                      "It published its report in 1940.", "When did the FCC report on radio networks?",
                                      passage) == []
    echo = answering.off_the_question("The answer is: terra preta.", "Terra preta is black earth.",
                                      "What is terra preta called?", "Terra preta is black earth.")
    assert echo == [answering.ECHOED_QUESTION]
    ja = "梅雨は東アジアの雨季である。華南では梅雨が5月に始まる。\n\n北海道には梅雨がない。"
    assert answering.off_the_question("答えは北海道。", "北海道には梅雨がない。", "華南で梅雨が始まるのはいつ？",
                                      ja) == ["華南", "始まる"]


def test_an_answer_naming_another_than_the_source_names_beside_the_questions_words_is_caught():
    story = "In the story, Hector, the eldest son of King Priam, defends the city against Achilles."
    question = "Who is the eldest son of King Priam in the story?"
    wrong = "The eldest son of King Priam in the story is Achilles."
    assert answering.off_the_question(wrong, story, question, story) == ["Achilles"]
    assert support.judge(wrong, story, 0.9, question=question, passage=story).verdict == "partly"
    assert answering.off_the_question("The eldest son of King Priam in the story is Hector.", story, question,
                                      story) == []
    assert answering.off_the_question("The answer is: Achilles.", story, question, story) == ["Achilles"]
    thebes = ("It is in Sophocles' play Antigone, in which Antigone, a daughter of the former King of Thebes, "
              "Oedipus, defies Creon, the current King of Thebes, who is trying to stop her.")
    king = "What is the name of the current King of Thebes in the play?"
    assert answering.off_the_question("The current King of Thebes in the play is Antigone.", thebes, king,
                                      thebes) == ["Antigone"]  # named after "play", but before the question's run
    assert answering.off_the_question("The current King of Thebes in the play is Creon.", thebes, king, thebes) == []
    radio = ("In July 1968, ABC Radio launched a special programming project for its FM stations, which was "
             "spearheaded by Allen Shaw, a former program manager at WCFL in Chicago.")
    assert answering.off_the_question("The 1968 special programming for ABC Radio's FM stations was led by Allen Shaw.",
                                      radio, "Who lead the 1968 special programming for ABC Radio's FM stations?",
                                      radio) == []  # "July" before "1968" is a month, not the run's subject
    csm = "This was followed by five launches of boilerplate CSMs into orbit in 1964 and 1965."
    assert answering.off_the_question("The launches of boilerplate CSMs occurred in orbit in 1964 and 1965.", csm,
                                      "When did the launches of boilerplate CSMs occur in orbit?", csm) == []
    assert answering.off_the_question("The answer is: 3.", csm, "How many launches of boilerplate CSMs were there?",
                                      csm) == ["3"]  # "five" is the count asked for
    boeing = "The Boeing 747 jumbo jets, the Queen of the Skies, were built in Everett."
    assert answering.off_the_question("The answer is: Boeing.", boeing, "Who built the 747 jumbo jets?", boeing) == []
    fcc = ("In 1968, new FCC rules allowed companies to own a maximum of seven radio stations, and ABC bought two "
           "stations for $1 million.")
    radio = "New rules from the FCC in 1968 allowed companies to own a maximum of how many radio stations?"
    assert answering.off_the_question("The answer is: 1.", fcc, radio, fcc) == ["1"]
    assert answering.off_the_question("The answer is: 7.", fcc, radio, fcc) == []  # "seven", as a word
    plague = "From Italy, the disease spread across Europe and through Germany from 1348 to 1350."
    assert answering.off_the_question("The disease spreading from 1348 to 1350 was in Europe.", plague,
                                      "Where was the disease spreading from 1348 to 1350?", plague) == []
    vab = "The LOC included a 130 million cubic foot (3.7 million cubic meter) Vertical Assembly Building (VAB)."
    assert answering.off_the_question("The Vertical Assembly Building was 3.7 million cubic meters.", vab,
                                      "How big was the Vertical Assembly Building?", vab) == []  # its own initials


def test_an_answer_to_how_many_or_how_much_without_a_number_is_not_the_answer():
    size = "Plastoglobuli are spherical bubbles of lipids and proteins about 45–60 nanometers across."
    question = "How large are Plastoglobuli?"
    assert answering.NO_NUMBER in answering.off_the_question(
        "The answer is: Plastoglobuli are spherical.", size, question)
    assert answering.off_the_question("The answer is: about 45–60 nanometers across.", size, question) == []
    assert answering.NO_NUMBER not in answering.off_the_question(
        "The answer is one.", "Only one crew member stayed in orbit.", "How many crew members stayed in orbit?")
    assert answering.NO_NUMBER in answering.off_the_question(
        "答えは党の大会です。", "党は三つの派に分かれた。", "党はいくつの派に分かれたか")
    assert answering.NO_NUMBER not in answering.off_the_question(
        "The answer is: forty.", "Forty soldiers died.", "How many soldiers died?")
    assert answering.NO_NUMBER not in answering.off_the_question(  # not a count: "How far …?"
        "The answer is: to the Rhine.", "The army marched to the Rhine.", "How far did the army march?")
    assert answering.NO_NUMBER not in answering.off_the_question(  # a statement that does not claim to answer
        "Plastoglobuli are spherical.", size, question)
