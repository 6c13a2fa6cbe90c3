"""An OpenAI-compatible face: ``GET /v1/models`` and ``POST /v1/chat/completions``.

Any OpenAI client or chat UI can point its base URL at ``http://127.0.0.1:PORT/v1`` and pick the one
model ragd offers. Only the last user message is the question: each question is answered from the
files alone, so earlier turns, system prompts and sampling options are accepted and ignored.

The question is capped as in REST (``MAX_QUERY``): a user message's text longer than that is refused
by the schema (422), and one made of several text parts that add up to more is a 400. Everything else
is bounded by the guard's body limit (256 KiB, a 413).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Body, status
from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from starlette.responses import JSONResponse, Response, StreamingResponse

from ragd.daemon.server.api import Backend, OnToken
from ragd.daemon.server.api.contract import (
    LLM_503,
    MAX_QUERY,
    SUPPORTED_SHARE,
    CitationOut,
    SentenceOut,
    error_status,
    errors,
)
from ragd.daemon.server.api.streaming import INTERNAL_ERROR, stream_answer
from ragd.index.answer.followup import Turn
from ragd.index.answer.looping import cut_short
from ragd.index.answer.models import Answer, AskOptions, Citation
from ragd.index.errors import RagdError
from ragd.index.location import cited_of
from ragd.index.models import Hit

MAX_MESSAGES = 1_000
REPEATS_LEFT_OUT = "ragd: the model began repeating itself; the answer is the text up to the first repeat."
NO_QUESTION = ("There is no question to answer: the last user message has no text. Ask something about your "
               "files.")

# --- request -------------------------------------------------------------------------------------
# Extra fields are ignored, as OpenAI clients send many; the fields ragd reads are strict (no coercion:
# `"stream": 0` is not a boolean). A user message's text is capped: every user message was the question once.


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)


class ContentPart(_Lenient):
    type: str = Field(description="Only `text` parts are read; images and other parts are ignored.")
    text: str | None = None


class QuestionPart(ContentPart):
    text: str | None = Field(None, max_length=MAX_QUERY)


class UserMessage(_Lenient):
    role: Literal["user"]
    content: Annotated[str, Field(max_length=MAX_QUERY)] | list[QuestionPart] | None = Field(
        None, description=f"The question: at most {MAX_QUERY} characters of text in all.")

    def text(self) -> str:
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "".join(p.text or "" for p in self.content if p.type == "text")


class OtherMessage(_Lenient):
    role: str = Field(description="`assistant`, `system`, `developer`, `tool`, ...: read by nobody.",
                      json_schema_extra={"not": {"const": "user"}})
    content: str | list[ContentPart] | None = None


def _role(message: Any) -> str:
    role = message.get("role") if isinstance(message, dict) else getattr(message, "role", None)
    return "user" if role == "user" else "other"


ChatMessage = Annotated[Annotated[UserMessage, Tag("user")] | Annotated[OtherMessage, Tag("other")],
                        Discriminator(_role)]


class StreamOptions(_Lenient):
    include_usage: bool = False


class ChatRequest(_Lenient):
    """OpenAI's chat request; fields ragd has no use for (temperature, max_tokens, tools, ...) are ignored."""

    model: str | None = Field(None, description="Ignored: ragd offers one model (see `GET /v1/models`).")
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = Field(False, description="Server-sent `chat.completion.chunk` events, then `data: [DONE]`.")
    stream_options: StreamOptions | None = None


EXAMPLES: dict[str, Any] = {
    "question": {
        "summary": "A question",
        "value": {"model": "ragd", "messages": [{"role": "user", "content": "When were the tomatoes planted?"}]},
    },
    "stream": {
        "summary": "Streamed, with a system prompt (ignored) and content parts",
        "value": {"model": "ragd", "stream": True, "messages": [
            {"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": [{"type": "text", "text": "When were the tomatoes planted?"}]}]},
    },
}

# --- response (for the schema; the routes build plain dicts) ------------------------------------


class AssistantMessage(BaseModel):
    role: str = "assistant"
    content: str = Field(description="The answer, then a plain-text `Sources:` footer.")


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: str = "stop"
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int = Field(description="Not known to ragd: 0.")
    completion_tokens: int = Field(description="The pieces of text the model wrote.")
    total_tokens: int


class ChatCompletion(BaseModel):
    id: str
    object: str = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[CitationOut] = Field(description="ragd: the verified citations of the answer.")
    grounded: bool = Field(description="ragd: whether the files hold evidence for the question.")
    supported_share: float | None = Field(None, description=f"ragd: {SUPPORTED_SHARE}")
    sentences: list[SentenceOut] = Field(default_factory=list,
                                         description="ragd: the answer's sentences, each with its support verdict.")
    nearest: list[dict[str, Any]] | None = Field(
        None, description="ragd, only when not grounded: the passages closest to the question.")
    searched: str = Field("", description="ragd: what was searched, the last question made standalone from the "
                                          "earlier messages when it is a follow-up.")
    notice: str | None = Field(None, description="ragd: a word for the reader about what wrote the answer (the "
                                                 "tiny demo model); null when there is none.")


DESCRIPTION = """\
Answers the **last user message** from the indexed files, as a turn of the conversation that the
earlier `user` and `assistant` messages make: a follow-up ("and the beans?") is searched in its
standalone form, which the reply gives as `searched`. System prompts and sampling options are ignored.

The reply is a standard `chat.completion`. Its `content` is the answer followed by a plain
`Sources:` footer (`[n] path (p. X, lines a-b)`), so that chat UIs showing only the text still show
where it came from. ragd adds top-level fields: `citations` (verified: each `quote` occurs in the
file at that place), `grounded`, and, when not grounded, `nearest` (the closest passages).

With `"stream": true` the reply is server-sent events as OpenAI sends them: a first chunk with
`delta.role`, one chunk per piece of the model's text, then a last chunk (with `finish_reason: "stop"`
and the fields `citations` and `grounded`) whose `delta.content` is the `Sources:` footer. ragd checks
the answer against the files only once the model is done: if it had to replace the model's text, the
last chunk first says so and gives ragd's answer (or, where ragd stopped a model repeating itself, says so).
`stream_options.include_usage` adds a usage chunk (no choices). `data: [DONE]` ends the stream; an error
midway is a `data: {"error": {...}}` event.

The question is the last user message; when it has no text, the reply says so (no model runs). Its
text is at most 4,000 characters, as in `POST /v1/ask`; earlier messages are read only as the
conversation's turns, and the whole request is bounded by the daemon's body limit (256 KiB by default, a 413).

Errors have OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`.
"""


def router(backend: Backend) -> APIRouter:
    api = APIRouter(prefix="/v1", tags=["OpenAI-compatible"])
    created = int(time.time())

    def model_card() -> dict[str, Any]:
        return {"id": backend.model_name(), "object": "model", "created": created, "owned_by": "ragd"}

    @api.get("/models", summary="The one model ragd offers (OpenAI-compatible)")
    def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [model_card()]}

    @api.get("/models/{model_id:path}", summary="The model, by id (OpenAI-compatible)", response_model=None,
             responses=errors(404, 422, why={404: "No model with that id (`model_not_found`)."}))
    def get_model(model_id: str) -> dict[str, Any] | JSONResponse:
        if model_id != backend.model_name():
            return error_response(status.HTTP_404_NOT_FOUND, f"The model '{model_id}' does not exist",
                                  param="model", code="model_not_found")
        return model_card()

    @api.post("/chat/completions", summary="Ask the files, OpenAI-style (answer + Sources footer + citations)",
              description=DESCRIPTION, response_model=ChatCompletion,
              responses={200: {"content": {"text/event-stream": {}},
                               "description": "A `chat.completion`, or with `stream` an event stream."},
                         **errors(400, 409, 422, 503, why={
                             400: "A question whose text parts add up to more than 4,000 characters, or "
                                  "another request ragd cannot answer (the message says why).",
                             422: "The request does not match this schema (a user message's text longer than "
                                  "4,000 characters, `messages` empty, a field of the wrong type, ...).",
                             503: LLM_503})})
    async def chat_completions(req: Annotated[ChatRequest, Body(openapi_examples=EXAMPLES)]) -> Response:
        question = last_user_text(req.messages)
        if len(question) > MAX_QUERY:  # several text parts: each within the schema's cap, not all together
            return error_response(status.HTTP_400_BAD_REQUEST, f"The question is too long ({len(question)} "
                                  f"characters; at most {MAX_QUERY}).", param="messages")
        ask = answerer(backend, question, earlier_turns(req.messages))
        if req.stream:
            include_usage = req.stream_options is not None and req.stream_options.include_usage
            return StreamingResponse(chunks(backend, ask, include_usage), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

        pieces = 0

        def count(_: str) -> None:
            nonlocal pieces
            pieces += 1

        try:
            answer = await anyio.to_thread.run_sync(lambda: ask(count))
        except RagdError as exc:
            return error_response(error_status(exc), str(exc))
        body = {
            "id": completion_id(), "object": "chat.completion", "created": int(time.time()),
            "model": backend.model_name(),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.answer + footer(answer)},
                         "finish_reason": "stop", "logprobs": None}],
            "usage": usage(pieces),
            **ragd_fields(answer),
        }
        return JSONResponse(body)

    return api


def answerer(backend: Backend, question: str, turns: tuple[Turn, ...] = ()) -> Callable[[OnToken], Answer]:
    """How to answer ``question`` after ``turns``: the backend, or, when there is no question, a reply that says so."""
    if not question.strip():
        return lambda _: Answer(question, NO_QUESTION, grounded=False, model=backend.model_name())
    options = AskOptions(turns=turns)
    return lambda on_token: backend.ask(question, on_token, options)


def earlier_turns(messages: list[UserMessage | OtherMessage]) -> tuple[Turn, ...]:
    """The conversation before the last user message: each user message a question, the assistant message
    after it its answer (without ragd's footer)."""
    last = max((i for i, m in enumerate(messages) if isinstance(m, UserMessage)), default=-1)
    turns: list[Turn] = []
    for message in messages[:last]:
        if isinstance(message, UserMessage):
            if message.text().strip():
                turns.append(Turn(message.text()))
        elif message.role == "assistant" and turns and not turns[-1].answer:
            content = message.content
            text = content if isinstance(content, str) else "".join(
                getattr(p, "text", None) or "" for p in content or ())
            turns[-1] = Turn(turns[-1].question, text.split("\n\nSources:\n", 1)[0])
    return tuple(turns)


async def chunks(backend: Backend, ask: Callable[[OnToken], Answer], include_usage: bool) -> AsyncIterator[str]:
    """The SSE body of a streamed completion (see ``DESCRIPTION``)."""
    cid, created, model = completion_id(), int(time.time()), backend.model_name()

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> str:
        body = {"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return sse(body)

    yield chunk({"role": "assistant", "content": ""})
    streamed: list[str] = []
    async with aclosing(stream_answer(ask)) as events:
        async for event in events:
            if event[0] == "token":
                streamed.append(event[1])
                yield chunk({"content": event[1]})
            elif event[0] == "answer":
                answer = event[1]
                yield chunk({"content": closing_text("".join(streamed), answer)}, "stop", **ragd_fields(answer))
                if include_usage:
                    yield sse({"id": cid, "object": "chat.completion.chunk", "created": created, "model": model,
                               "choices": [], "usage": usage(len(streamed))})
            else:
                kind = "server_error" if event[1] == INTERNAL_ERROR else "invalid_request_error"
                yield sse(error_body(event[1], kind=kind))
    yield "data: [DONE]\n\n"


def closing_text(streamed: str, answer: Answer) -> str:
    """The last chunk's text: the footer, preceded by ragd's answer when it is not what was streamed."""
    if answer.answer.strip() == streamed.strip():
        return footer(answer)
    if not streamed.strip():
        return answer.answer + footer(answer)
    if cut_short(streamed, answer.answer):
        return f"\n\n---\n{REPEATS_LEFT_OUT}{footer(answer)}"
    note = "ragd: the text above could not be verified against your files. ragd's answer:"
    return f"\n\n---\n{note}\n\n{answer.answer}{footer(answer)}"


def footer(answer: Answer) -> str:
    """Plain-text sources: ``[n] path (p. X, lines a-b)``, then the sentences not found in the files and those
    only partly found, with what their source lacks, and the answer's notice (the demo model wrote it); when not
    grounded, the nearest passages."""
    if answer.citations:
        seen: dict[tuple[Any, ...], str] = {}
        for c in answer.citations:
            seen.setdefault((c.n, c.path, c.page, c.sheet, c.slide, c.line_start, c.line_end), f"[{c.n}] {where(c)}")
        text = "\n\nSources:\n" + "\n".join(seen.values())
        unsupported = [s.text for s in answer.sentences if s.support == "unsupported"]
        if unsupported:
            text += "\n\nNot found in your files:\n" + "\n".join(f"- {s}" for s in unsupported)
        partly = [s.text + (f" ({', '.join(s.missing)} not in the source)" if s.missing else "")
                  for s in answer.sentences if s.support == "partly"]
        if partly:  # as the terminal and the page mark them
            text += "\n\nOnly partly found in your files:\n" + "\n".join(f"- {s}" for s in partly)
        return text + (f"\n\n({answer.notice})" if answer.notice else "")
    if not answer.grounded and answer.nearest:
        return "\n\nClosest passages in your files:\n" + "\n".join(f"- {where(h)}" for h in answer.nearest)
    return ""


def where(at: Citation | Hit) -> str:
    return cited_of(at)


def last_user_text(messages: list[UserMessage | OtherMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, UserMessage):
            return message.text()
    return ""


def ragd_fields(answer: Answer) -> dict[str, Any]:
    fields: dict[str, Any] = {"citations": [c.to_json() for c in answer.citations], "grounded": answer.grounded,
                              "supported_share": answer.supported_share,
                              "sentences": [s.to_json() for s in answer.sentences],
                              "searched": answer.searched or answer.question, "notice": answer.notice}
    if not answer.grounded:
        fields["nearest"] = [h.to_json() for h in answer.nearest]
    return fields


def usage(pieces: int) -> dict[str, int]:
    return {"prompt_tokens": 0, "completion_tokens": pieces, "total_tokens": pieces}


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def sse(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"


def error_body(message: str, *, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def error_response(status_code: int, message: str, *, param: str | None = None,
                   code: str | None = None) -> JSONResponse:
    kind = "invalid_request_error" if status_code < 500 else "server_error"
    return JSONResponse(error_body(message, kind=kind, param=param, code=code), status_code=status_code)
