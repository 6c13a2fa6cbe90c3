"""A looping model is stopped where it starts repeating itself, and its answer keeps what it said once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from ragd.index.answer.looping import LONG_PHRASE, repeating_from
from ragd.index.llm.base import Message
from tests.fakes import ScriptedLLM
from tests.test_support import world  # noqa: F401  (the fixture)


def kept(text: str) -> str:
    at = repeating_from(text)
    return text if at is None else text[:at]


def test_a_phrase_repeated_back_to_back_is_kept_once() -> None:
    text = "コンゴ共和国は、石油輸出国機構（OPEC）の" + "コンゴ共和国の" * 12
    once = kept(text)  # the copy kept begins where the repetition does: "…のコンゴ共和国" (its phase is free)
    assert once.startswith("コンゴ共和国は、石油輸出国機構（OPEC）の") and once.count("コンゴ共和国") == 2
    # cut inside a sentence: the kept copy runs to its sentence's end
    text = "2006年4月30日に選挙があった。" + "2007年6月30日に選挙があった。" * 5
    assert kept(text) == "2006年4月30日に選挙があった。2007年6月30日に選挙があった。"


def test_a_sentence_in_a_cycle_is_kept_once() -> None:
    cycle = "The embargo was lifted in March 1974. It was costly. "
    text = "The crisis began in October 1973. " + cycle * 3
    assert kept(text) == "The crisis began in October 1973. " + cycle
    short = "rising demand for imported oil across the industrialised economies, the cut in output by the producers, "
    longer = short + "the embargo on shipments to supporters of Israel, and the fall of the dollar, "
    assert len(short) < LONG_PHRASE <= len(longer)
    # a phrase said back to back: four times, or three when it is long
    assert repeating_from("The causes were: " + short * 3) is None
    assert repeating_from("The causes were: " + short * 4) is not None
    assert repeating_from("The causes were: " + longer * 3) is not None
    # a long sentence over and over with something that changes between (a drifting loop): six times
    said = "The hierarchy theorems are defined as follows:"
    drift = "Intro. " + "".join(f"{said}\n\n[{n}] complexity.txt (line {40 + n})\n" for n in range(1, 8))
    assert kept(drift) == f"Intro. {said}\n\n[1] complexity.txt (line 41)\n"
    # a source's place counted up line after line, short as it is: the answer keeps the first
    label = "生命の起源 > 生命の起源"
    counted = f"オランダのレーウェンフックは、{label} (lines 36-36)\n\n" + "".join(
        f"{label} (lines {n}-{n})\n\n" for n in range(37, 60))
    assert kept(counted) == f"オランダのレーウェンフックは、{label} (lines 36-36)\n\n{label} (lines 37-37)\n\n"
    pages = "".join(f"See report.pdf (p. {n}, lines {n}-{n + 2}).\n" for n in range(1, 12))
    assert kept(pages) == "See report.pdf (p. 1, lines 1-3).\n"


def test_an_answer_that_does_not_loop_is_left_whole() -> None:
    for text in (
        "The crisis began in 1973. The embargo was lifted in March 1974. The crisis began in 1973.",  # twice
        "| year | price |\n|---|---|\n| 1973 | 3 |\n| 1974 | 12 |\nSources:\n1. a.md\nSources:\n2. b.md\n",
        "- the tomatoes were planted in April\n- the beans were planted in May\n- the peas were planted in June\n",
        "Sources:\nSources:\nSources:\n",  # short lines may recur
        # a list of the places an answer rests on, in one file: five is no loop (nor numbered ones, nor figures)
        "".join(f"{label} (lines {n}-{n + 1})\n" for n in range(1, 10, 2) for label in ("生命の起源 > 生命の起源",)),
        "".join(f"[{n}] Black_Death.txt (lines {3 * n}-{3 * n + 1})\n" for n in range(1, 9)),
        "".join(f"In {y} the population was {y - 1900} thousand.\n" for y in range(1990, 2000)),
        # a place cited under each point of an answer is no run of places
        "".join(f"{n}. Cats sleep for about {n + 11} hours a day.\nSource: notes.md (lines {n}-{n + 1})\n"
                for n in range(1, 9)),
        "." * 80,  # no word repeated: punctuation is not a phrase
        "「" + "ー" * 60 + "」と叫んだ。",  # nor one character, nor numbers: "[0, 0, 0, 0]," rows of a matrix
        "m = [\n" + "  [0, 0, 0, 0],\n" * 4 + "]\n",
        # a label that recurs under each item is no cycle
        "".join(f"**Option {o}**\n**Advantages:**\n- fast\n**Disadvantages:**\n- costs more to run\n" for o in "ABC"),
        "".join(f"- {c}：前年比で売上が大きく増加しました。\n" for c in ("東京", "大阪", "名古屋")),
        # "3." or "github." is no sentence: three parallel lines are not three copies
        "".join(f"- {n}: see https://github.com/org/{n} for version 3.{i}\n" for i, n in enumerate("abc")),
        # code repeats itself
        "```python\n" + "try:\n    run()\nexcept Exception as error:\n    log(error)\n" * 3 + "```\n",
        "```csv\nid,score\n" + "NA,NA,NA,NA,NA\n" * 5 + "```\n",
    ):
        assert repeating_from(text) is None, text


class CountingLLM(ScriptedLLM):
    """Records how many pieces the answer path took before it stopped the model."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply)
        self.taken = 0
        self.stopped = False

    def stream(self, messages: Sequence[Message], *, max_tokens: int, temperature: float) -> Iterator[str]:
        try:
            for piece in super().stream(messages, max_tokens=max_tokens, temperature=temperature):
                self.taken += 1
                yield piece
        except GeneratorExit:
            self.stopped = True
            raise


def test_the_answer_path_stops_a_looping_model_and_keeps_one_copy(world) -> None:  # noqa: F811
    first = "The crisis began in October 1973 when OAPEC members proclaimed an oil embargo [1]."
    loop = " By the end of the embargo in March 1974, the price of oil had risen nearly 400% [1]."
    llm = CountingLLM(first + loop * 40)
    streamed: list[str] = []
    answer = world.asker(llm).ask("What caused the 1973 oil crisis?", on_token=streamed.append)
    assert llm.stopped and llm.taken < len(llm.reply.split()) // 5  # stopped soon after the third copy
    assert answer.answer.count("400%") == 1 and answer.answer.startswith("The crisis began")
    assert [s.support for s in answer.sentences] == ["supported", "supported"]
    assert "".join(streamed).count("400%") == 3  # what was streamed before the loop was seen


def test_the_terminal_says_the_repeats_were_left_out(world, capsys) -> None:  # noqa: F811
    from ragd.daemon.cli.ask import answer_in_terminal
    from ragd.index.answer.models import AskOptions

    loop = " By the end of the embargo in March 1974, the price of oil had risen nearly 400% [1]."
    asker = world.asker(ScriptedLLM("The crisis began in October 1973 when OAPEC members proclaimed an oil "
                                    "embargo [1]." + loop * 10))

    class Service:  # the CLI's seam, answering in process
        def ask(self, question, on_token, options):
            return asker.ask(question, on_token)

    answer = answer_in_terminal(Service(), "What caused the 1973 oil crisis?", AskOptions())  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "the model began repeating itself; the repeats are left out" in out
    assert answer.answer.count("400%") == 1 and out.count("400%") >= 4  # three streamed, one as kept (and a quote)
