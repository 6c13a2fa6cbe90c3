"""The OpenAI-compatible routes, through the official ``openai`` client against a real uvicorn server."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from fastapi import FastAPI

from ragd.daemon.server.api import OnToken, mcp_server, rest
from ragd.daemon.server.api.contract import MAX_QUERY
from ragd.daemon.server.api.openai_compat import NO_QUESTION, REPEATS_LEFT_OUT, closing_text, footer, router
from ragd.daemon.server.api.streaming import INTERNAL_ERROR, StreamEvent, stream_answer
from ragd.index.answer.models import Answer, Citation, Sentence
from ragd.index.errors import NothingIndexed, RagdError
from ragd.index.llm.base import LLMError
from ragd.index.llm.settings import DEMO_NOTICE
from ragd.index.models import Hit
from ragd.index.scope import Scope
from ragd.index.store.health import IndexDamaged
from tests.servers import serve_in_thread

HIT = Hit(chunk_id="c1", path="/notes/garden.md", text="Tomatoes were planted on 12 May.", score=0.9,
          page=None, line_start=3, line_end=4)
CITATION = Citation(n=1, path="/notes/garden.md", page=None, line_start=3, line_end=4,
                    quote="Tomatoes were planted on 12 May.")
PDF_CITATION = Citation(n=2, path="/docs/plan.pdf", page=7, line_start=10, line_end=10, quote="12 May")
PIECES = ["The tomatoes ", "were planted ", "on 12 May [1]."]


class FakeBackend:
    """Canned answers keyed by the question; streams ``PIECES`` to ``on_token``."""

    def __init__(self) -> None:
        self.questions: list[str] = []
        self.slow_ended = threading.Event()
        self.slow_outcome: list[str] = []

    def search(self, query: str, k: int, mode: str, scope=None) -> list[Hit]:
        self.scope = scope
        return [HIT][:k]

    def ask(self, question: str, on_token: OnToken | None = None, options=None) -> Answer:
        self.questions.append(question)
        self.options = options
        if question == "model missing":
            raise LLMError("the model file is missing: run `ragd models pull`")
        if question == "damaged":
            raise IndexDamaged("the index is damaged; ragd is rebuilding it")
        if question == "nothing indexed":
            raise NothingIndexed("nothing is indexed yet: add a folder with `ragd add`")
        if question == "slow":  # a long answer, for clients that go away
            try:
                for _ in range(2000):
                    time.sleep(0.005)
                    if on_token is not None:
                        on_token("word ")
                self.slow_outcome.append("finished")
            except Exception as exc:
                self.slow_outcome.append(type(exc).__name__)
                raise
            finally:
                self.slow_ended.set()
        for piece in PIECES:
            if on_token is not None:
                on_token(piece)
        if question == "unknown":
            return Answer(question, "Your files do not say.", grounded=False, nearest=[HIT], model="fake")
        text = "".join(PIECES)
        return Answer(question, text, grounded=True, citations=[CITATION, PDF_CITATION], model="fake",
                      sentences=[Sentence(0, len(text), "The tomatoes were planted on 12 May.", "supported", (0,))],
                      scope=options.scope if options is not None else Scope())

    def model_name(self) -> str:
        return "ragd-test"

    def status(self) -> dict[str, Any]:
        return {}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[str, FakeBackend]]:
    backend = FakeBackend()
    app = FastAPI()
    app.include_router(router(backend))
    with serve_in_thread(app) as url:
        yield url, backend


@pytest.fixture
def client(served: tuple[str, FakeBackend]) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=f"{served[0]}/v1", api_key="x", max_retries=0, timeout=20) as c:
        yield c


def test_models(client: openai.OpenAI) -> None:
    models = client.models.list()
    assert [m.id for m in models.data] == ["ragd-test"]
    assert models.data[0].owned_by == "ragd"
    assert client.models.retrieve("ragd-test").id == "ragd-test"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("gpt-4")


def test_completion(client: openai.OpenAI, served: tuple[str, FakeBackend]) -> None:
    response = client.chat.completions.create(model="whatever", temperature=0.2, max_tokens=50, user="me", messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "an earlier question"},
        {"role": "assistant", "content": "an earlier answer"},
        {"role": "user", "content": [{"type": "text", "text": "When were the "}, {"type": "text", "text": "tomatoes "
                                     "planted?"}]},
    ])
    assert served[1].questions[-1] == "When were the tomatoes planted?"
    turns = served[1].options.turns  # the earlier messages are the conversation's turns
    assert [(t.question, t.answer) for t in turns] == [("an earlier question", "an earlier answer")]
    assert response.object == "chat.completion" and response.id.startswith("chatcmpl-")
    assert response.model == "ragd-test"
    choice = response.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    assert choice.message.content == ("The tomatoes were planted on 12 May [1].\n\nSources:\n"
                                      "[1] /notes/garden.md (lines 3-4)\n[2] /docs/plan.pdf (p. 7, line 10)")
    assert response.usage is not None and response.usage.completion_tokens == len(PIECES)
    extra = response.model_extra or {}
    assert extra["grounded"] is True and "nearest" not in extra
    assert extra["supported_share"] == 1.0 and extra["sentences"][0]["support"] == "supported"
    assert extra["sentences"][0]["citations"] == [0]
    assert extra["searched"] == "When were the tomatoes planted?"
    assert extra["citations"][0] == {"n": 1, "path": "/notes/garden.md", "title": None, "page": None, "line_start": 3,
                                     "line_end": 4, "sheet": None, "slide": None, "ocr": False,
                                     "quote": "Tomatoes were planted on 12 May."}


def test_ragds_own_footer_is_not_part_of_an_earlier_answer(client: openai.OpenAI,
                                                            served: tuple[str, FakeBackend]) -> None:
    client.chat.completions.create(model="m", messages=[
        {"role": "user", "content": "When were the tomatoes planted?"},
        {"role": "assistant", "content": "On 12 May [1].\n\nSources:\n[1] /notes/garden.md (lines 3-4)"},
        {"role": "user", "content": "And the beans?"},
        {"role": "assistant", "content": "unanswered"}, {"role": "user", "content": "And the peas?"}])
    turns = served[1].options.turns
    assert [(t.question, t.answer) for t in turns] == [("When were the tomatoes planted?", "On 12 May [1]."),
                                                       ("And the beans?", "unanswered")]


def test_not_grounded(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(model="ragd", messages=[{"role": "user", "content": "unknown"}])
    assert response.choices[0].message.content == ("Your files do not say.\n\nClosest passages in your files:\n"
                                                   "- /notes/garden.md (lines 3-4)")
    extra: dict[str, Any] = response.to_dict()
    assert extra["grounded"] is False and extra["citations"] == []
    assert extra["nearest"][0]["path"] == "/notes/garden.md"


def test_stream(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(
        model="ragd", stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "When were the tomatoes planted?"}]))
    assert chunks[0].choices[0].delta.role == "assistant"
    assert [c.choices[0].delta.content for c in chunks[1:4]] == PIECES
    last, usage = chunks[-2], chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.choices[0].delta.content == footer(Answer("q", "a", grounded=True, citations=[CITATION, PDF_CITATION]))
    assert (last.model_extra or {})["grounded"] is True
    assert [c["n"] for c in (last.model_extra or {})["citations"]] == [1, 2]
    assert usage.choices == [] and usage.usage is not None and usage.usage.completion_tokens == 3
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("The tomatoes were planted on 12 May [1].\n\nSources:\n[1] /notes/garden.md")


def test_stream_replaced_answer(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="ragd", stream=True,
                                                 messages=[{"role": "user", "content": "unknown"}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text.startswith("".join(PIECES) + "\n\n---\nragd: the text above could not be verified")
    assert text.endswith("\n\nYour files do not say.\n\nClosest passages in your files:\n"
                         "- /notes/garden.md (lines 3-4)")
    assert (chunks[-1].model_extra or {})["grounded"] is False


def test_wire_format(served: tuple[str, FakeBackend]) -> None:
    """Exactly OpenAI's framing: ``data: {json}`` events separated by a blank line, then ``data: [DONE]``."""
    body = {"messages": [{"role": "user", "content": "q"}], "stream": True}
    response = httpx.post(f"{served[0]}/v1/chat/completions", json=body, timeout=20)
    assert response.headers["content-type"].startswith("text/event-stream")
    events = response.text.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""]
    assert all(e.startswith("data: {") for e in events[:-2])


def test_client_disconnect_stops_the_answer(served: tuple[str, FakeBackend]) -> None:
    url, backend = served
    body = {"messages": [{"role": "user", "content": "slow"}], "stream": True}
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=20) as response:
        events = (line for line in response.iter_lines() if line)
        assert '"role": "assistant"' in next(events)
        assert '"content": "word "' in next(events)  # the model is writing; now the client goes away
    assert backend.slow_ended.wait(10)
    assert backend.slow_outcome == ["ConsumerGone"]
    assert client_still_works(url)


def client_still_works(url: str) -> bool:
    return httpx.get(f"{url}/v1/models", timeout=20).status_code == 200


def test_openapi_documents_the_route() -> None:
    app = FastAPI()
    app.include_router(router(FakeBackend()))
    operation = app.openapi()["paths"]["/v1/chat/completions"]["post"]
    assert "Sources:" in operation["description"]
    assert set(operation["requestBody"]["content"]["application/json"]["examples"]) == {"question", "stream"}
    assert "text/event-stream" in operation["responses"]["200"]["content"]


@pytest.mark.parametrize("messages", [
    [{"role": "system", "content": "hello"}],
    [{"role": "user", "content": "   "}],
    [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}],
    [{"role": "user", "content": "an earlier question"}, {"role": "user", "content": None}],
])
def test_no_question_is_answered_as_such(client: openai.OpenAI, served: tuple[str, FakeBackend],
                                         messages: list[Any]) -> None:
    """Valid by the schema, so not refused: the reply says there is no question, and no model runs."""
    asked = len(served[1].questions)
    response = client.chat.completions.create(model="ragd", messages=messages)
    assert response.choices[0].message.content == NO_QUESTION
    assert (response.model_extra or {})["grounded"] is False
    chunks = list(client.chat.completions.create(model="ragd", messages=messages, stream=True))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == NO_QUESTION
    assert len(served[1].questions) == asked


def test_no_messages_is_refused_by_the_schema(client: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="ragd", messages=[])
    app = FastAPI()
    app.include_router(router(FakeBackend()))
    assert app.openapi()["components"]["schemas"]["ChatRequest"]["properties"]["messages"]["minItems"] == 1


def test_question_too_long(client: openai.OpenAI, served: tuple[str, FakeBackend]) -> None:
    """The REST cap (``MAX_QUERY``, shared): a longer text is refused by the schema, parts that add up to more
    are a 400, and in neither case does the model run."""
    assert rest.MAX_QUERY is MAX_QUERY is mcp_server.MAX_QUERY
    asked = len(served[1].questions)
    with pytest.raises(openai.UnprocessableEntityError) as refused:
        client.chat.completions.create(model="ragd", messages=[{"role": "user", "content": "x" * 31_900}])
    assert "at most 4000 characters" in refused.value.response.text
    parts = [{"type": "text", "text": "x" * 3000}, {"type": "text", "text": "y" * 3000}]
    with pytest.raises(openai.BadRequestError, match="too long") as err:
        client.chat.completions.create(model="ragd", messages=[{"role": "user", "content": parts}])  # type: ignore
    assert err.value.body == {"message": "The question is too long (6000 characters; at most 4000).",
                              "type": "invalid_request_error", "param": "messages", "code": None}
    assert len(served[1].questions) == asked
    exactly = "x" * MAX_QUERY
    client.chat.completions.create(model="ragd", messages=[
        {"role": "system", "content": "s" * 20_000}, {"role": "user", "content": exactly}])  # other roles: no cap
    assert served[1].questions[-1] == exactly


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": "q"}], "stream": 0},
    {"messages": [{"role": "user", "content": "q"}], "stream": "true"},
    {"messages": [{"role": "user", "content": "q"}], "stream": True, "stream_options": {"include_usage": 1}},
    {"messages": [{"role": 1, "content": "q"}]},
    {"messages": [{"role": "user", "content": 5}]},
])
def test_wrong_types_are_refused(served: tuple[str, FakeBackend], body: dict[str, Any]) -> None:
    """No lax coercion: what the schema calls a boolean must be one."""
    assert httpx.post(f"{served[0]}/v1/chat/completions", json=body, timeout=20).status_code == 422


def test_user_errors(client: openai.OpenAI) -> None:
    with pytest.raises(openai.ConflictError, match="nothing is indexed"):  # 409, as in REST
        client.chat.completions.create(model="ragd", messages=[{"role": "user", "content": "nothing indexed"}])
    with pytest.raises(openai.InternalServerError, match="model file is missing") as err:
        client.chat.completions.create(model="ragd", messages=[{"role": "user", "content": "model missing"}])
    assert err.value.status_code == 503
    with pytest.raises(openai.InternalServerError, match="rebuilding") as err:  # as REST answers it
        client.chat.completions.create(model="ragd", messages=[{"role": "user", "content": "damaged"}])
    assert err.value.status_code == 503


def test_user_error_while_streaming(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(model="ragd", stream=True,
                                            messages=[{"role": "user", "content": "model missing"}])
    with pytest.raises(openai.APIError, match="model file is missing"):
        list(stream)


def test_footer_forms() -> None:
    answer = Answer("q", "a", grounded=True, citations=[CITATION, CITATION, PDF_CITATION])
    assert footer(answer) == "\n\nSources:\n[1] /notes/garden.md (lines 3-4)\n[2] /docs/plan.pdf (p. 7, line 10)"
    bare = Citation(n=3, path="/x.txt", page=None, line_start=None, line_end=None, quote="q")
    assert footer(Answer("q", "a", grounded=True, citations=[bare])) == "\n\nSources:\n[3] /x.txt"
    assert footer(Answer("q", "a", grounded=False)) == ""
    demo = Answer("q", "a", grounded=True, citations=[bare], notice=DEMO_NOTICE)
    assert footer(demo) == f"\n\nSources:\n[3] /x.txt\n\n({DEMO_NOTICE})"  # the tiny model wrote it: said
    marked = Answer("q", "a. b.", grounded=True, citations=[bare], sentences=[
        Sentence(0, 2, "a.", "supported", (0,)), Sentence(3, 5, "Robots water them.", "unsupported")])
    assert footer(marked) == "\n\nSources:\n[3] /x.txt\n\nNot found in your files:\n- Robots water them."
    partly = Answer("q", "a. b. c.", grounded=True, citations=[bare], sentences=[
        Sentence(0, 2, "a.", "supported", (0,)), Sentence(3, 5, "Planted in 1822.", "partly", (0,), ("1822",)),
        Sentence(6, 8, "Watered daily.", "partly", (0,))])
    assert footer(partly) == ("\n\nSources:\n[3] /x.txt\n\nOnly partly found in your files:\n"
                              "- Planted in 1822. (1822 not in the source)\n- Watered daily.")
    assert closing_text("", Answer("q", "a", grounded=False)) == "a"  # nothing streamed: the answer itself
    cut = closing_text("a. b. b. b.", Answer("q", "a. b.", grounded=False))  # the model stopped in a loop
    assert cut == "\n\n---\n" + REPEATS_LEFT_OUT


# --- stream_answer on its own -------------------------------------------------------------------------


def collect(ask: Any) -> list[StreamEvent]:
    async def run() -> list[StreamEvent]:
        return [event async for event in stream_answer(ask)]
    return asyncio.run(run())


def test_stream_answer_events() -> None:
    def ask(on_token: OnToken) -> Answer:
        on_token("a")
        on_token("b")
        return Answer("q", "ab", grounded=True)
    events = collect(ask)
    assert events[:2] == [("token", "a"), ("token", "b")]
    assert events[2][0] == "answer" and isinstance(events[2][1], Answer) and events[2][1].answer == "ab"


def test_stream_answer_errors(caplog: pytest.LogCaptureFixture) -> None:
    def user_error(on_token: OnToken) -> Answer:
        on_token("a")
        raise RagdError("nothing is indexed")

    def crash(on_token: OnToken) -> Answer:
        raise ZeroDivisionError

    assert collect(user_error) == [("token", "a"), ("error", "nothing is indexed")]
    assert collect(crash) == [("error", INTERNAL_ERROR)]
    assert "ask failed" in caplog.text and "ZeroDivisionError" in caplog.text


def test_stream_answer_stops_the_model_when_abandoned() -> None:
    """Closing the stream makes the next ``on_token`` raise, so the worker stops generating."""
    produced: list[int] = []
    done = threading.Event()
    outcome: list[BaseException | Answer] = []

    def ask(on_token: OnToken) -> Answer:
        try:
            for i in range(10_000):
                on_token(str(i))
                produced.append(i)
            return Answer("q", "all", grounded=True)
        except BaseException as exc:
            outcome.append(exc)
            raise
        finally:
            done.set()

    async def run() -> None:
        events = stream_answer(ask)
        async for _ in events:
            break
        await events.aclose()

    asyncio.run(run())
    assert done.wait(10)
    assert len(produced) < 10_000
    assert outcome and type(outcome[0]).__name__ == "ConsumerGone"
