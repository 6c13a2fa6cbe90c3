"""The REST API under ``/v1``: status, search, ask (JSON or server-sent events), sources, reindex, documents."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Body, HTTPException, Query, status
from fastapi import Path as FastPath
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import JSONResponse, Response

from ragd.daemon.server.api import DaemonBackend, NotIndexed
from ragd.daemon.server.api.contract import (
    LLM_503,
    MAX_INT,
    MAX_PATH,
    MAX_QUERY,
    NO_NUL,
    AnswerOut,
    SearchOut,
    WholeNumber,
    error_status,
    errors,
)
from ragd.daemon.server.api.streaming import stream_answer
from ragd.daemon.server.desktop import NoOpener
from ragd.index.answer.conversations import CONVERSATION_ID
from ragd.index.answer.followup import Turn
from ragd.index.answer.models import AskOptions
from ragd.index.errors import RagdError
from ragd.index.models import Mode
from ragd.index.scope import TYPE_GROUPS, Scope, ScopeError, scope_of
from ragd.index.store.health import IndexDamaged

PathStr = Annotated[str, Field(min_length=1, max_length=MAX_PATH, pattern=NO_NUL)]
PathQuery = Annotated[str, Query(min_length=1, max_length=MAX_PATH, pattern=NO_NUL)]
SSE = "text/event-stream"


class _Strict(BaseModel):
    """Unknown fields are refused and nothing is coerced (``"stream": 0`` is not a boolean): the body is
    exactly what the schema says."""

    model_config = ConfigDict(extra="forbid", strict=True)


# What a date filter and a type filter look like (a day that does not exist, or `until` not after `since`, is
# still a 422 that says so).
WHEN = (r"^(?:[1-9]\d{3}(?:-(?:0[1-9]|1[0-2])(?:-(?:0[1-9]|[12]\d|3[01])"
        r"(?:T(?:[01]\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)?)?)?)?"
        r"|today|yesterday|[1-9]\d{0,3}[hdwmy])$")
TYPES = r"^\.?[A-Za-z0-9_+-]{1,16}(?:,\.?[A-Za-z0-9_+-]{1,16})*$"


MAX_FILES = 10  # files of one whole-document request: each is read whole, in passes of the model


class ScopedRequest(_Strict):
    """Which files a search or a question may draw on (each filter narrows; pushed into both retrievers)."""

    within: list[PathStr] = Field(default_factory=list, alias="in", max_length=50,
                                  description="Folders (absolute paths), path globs (`*/2024/*.pdf`), or folder "
                                              "names found anywhere (`taxes`): any of them.")
    type: list[Annotated[str, Field(pattern=TYPES)]] = Field(
        default_factory=list, max_length=50, description="File types: extensions (`pdf`, `md`) or kinds "
                                                        f"({', '.join(TYPE_GROUPS)}): any of them. An extension "
                                                        "no parser reads is a 422.")
    since: str | None = Field(None, pattern=WHEN, description="Modified at or after: `2024-03-01`, `2024-03`, "
                                                               "`today`, `7d`, `2w`, or an ISO date-time.")
    until: str | None = Field(None, pattern=WHEN, description="Modified before (a date alone: through its end).")
    files: list[PathStr] = Field(default_factory=list, max_length=MAX_FILES,
                                 description="Exactly these indexed files (as in hits and citations).")

    def scope(self) -> Scope:
        try:
            return scope_of(within=self.within, types=self.type, since=self.since, until=self.until,
                            paths=self.files)
        except ScopeError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None


class SearchRequest(ScopedRequest):
    query: Said = Field(description="What to look for.")
    k: WholeNumber = Field(5, ge=1, le=100, description="How many hits.")
    mode: Mode = "hybrid"

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, json_schema_extra={
        "examples": [{"query": "When were the tomatoes planted?", "k": 5, "mode": "hybrid"},
                     {"query": "hotel", "in": ["~/taxes/2024"], "type": ["pdf", "spreadsheet"], "since": "2024-01"}]})


def _said(text: str) -> str:
    """A question or query that is more than white space (the CLI refuses one as empty too)."""
    if not text.strip():
        raise ValueError("it is empty (only white space)")
    return text


Said = Annotated[str, Field(min_length=1, max_length=MAX_QUERY), AfterValidator(_said)]


class TurnIn(_Strict):
    question: Said
    answer: str = Field("", max_length=20 * MAX_QUERY)
    searched: str = Field("", max_length=MAX_QUERY, description="What was searched for it, if known.")


class AskRequest(ScopedRequest):
    question: Said
    stream: bool = Field(False, description="Server-sent events: `token` events, then one `answer` event.")
    conversation: str | None = Field(None, pattern=CONVERSATION_ID.pattern,
                                     description="A conversation's id: the question is a turn of it (a follow-up is "
                                                 "searched in its standalone form, shown as `searched`). Any new "
                                                 "id starts one.")
    turns: list[TurnIn] = Field(default_factory=list, max_length=50,
                                description="Earlier turns, oldest first, when the client keeps the conversation "
                                            "itself (else they are read from the history by `conversation`).")

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, json_schema_extra={
        "examples": [{"question": "When were the tomatoes planted?", "stream": False},
                     {"question": "And the beans?", "conversation": "garden-1"}]})

    def options(self) -> AskOptions:
        return AskOptions(scope=self.scope(), conversation=self.conversation,
                          turns=tuple(Turn(t.question, t.answer, t.searched) for t in self.turns))


class SourceRequest(_Strict):
    path: PathStr = Field(description="A folder (or file) on this machine.")

    model_config = ConfigDict(extra="forbid", strict=True,
                              json_schema_extra={"examples": [{"path": "~/Documents/notes"}]})


class OpenRequest(_Strict):
    path: PathStr = Field(description="An indexed file (as in search hits and citations).")


class ReindexRequest(_Strict):
    paths: list[PathStr] = Field(default_factory=list, max_length=1000,
                              description="Files or folders to look at again; empty = everything.")


def user_error(exc: RagdError) -> HTTPException:
    """A user error as HTTP: the model unavailable is a 503, nothing indexed a 409, anything else a 400."""
    return HTTPException(error_status(exc), str(exc))


def router(service: DaemonBackend) -> APIRouter:
    api = APIRouter(prefix="/v1")

    @api.get("/status", summary="Counts, indexing progress (queued, done, failed, current file, ETA), problems")
    def get_status() -> dict[str, Any]:
        return service.status()

    @api.post("/search", summary="Hybrid search over the index (or some of its files: `in`, `type`, `since`, `until`)",
              responses=errors(422, 503), response_model=SearchOut)
    def search(req: SearchRequest) -> dict[str, Any]:
        hits = service.search(req.query, req.k, req.mode, req.scope())
        return {"hits": [h.to_json() for h in hits]}

    @api.post("/ask", summary="Answer a question from the files, with verified citations",
              response_description="The answer as JSON, or with `stream: true` an event stream: `token` events "
                                   "(`{\"text\": ...}`) while the model writes, then one `answer` event with the "
                                   "final answer and its citations (ragd may replace text it cannot match to "
                                   "the files), or an `error` event.",
              responses={200: {"model": AnswerOut, "content": {SSE: {}}},
                         **errors(400, 404, 409, 422, 503, why={503: LLM_503, 404: "A file of `files` is not "
                                                                             "an indexed file."})})
    async def ask(req: AskRequest) -> Response:
        options = req.options()
        if not req.stream:
            try:
                answer = await anyio.to_thread.run_sync(lambda: service.ask(req.question, None, options))
            except IndexDamaged:
                raise  # the app's handler: a 503 with Retry-After
            except RagdError as exc:
                raise user_error(exc) from None
            return JSONResponse(answer.to_json())

        for path in options.scope.paths:  # before the stream starts, while a 404 can still be sent
            try:
                await anyio.to_thread.run_sync(service.document, path)
            except NotIndexed:
                raise HTTPException(status.HTTP_404_NOT_FOUND, f"not an indexed file: {path}") from None

        async def events() -> AsyncIterator[ServerSentEvent]:
            async for kind, value in stream_answer(lambda on_token: service.ask(req.question, on_token, options)):
                if kind == "token":
                    yield ServerSentEvent(json.dumps({"text": value}, ensure_ascii=False), event="token")
                elif kind == "answer" and not isinstance(value, str):
                    yield ServerSentEvent(json.dumps(value.to_json(), ensure_ascii=False), event="answer")
                else:
                    yield ServerSentEvent(json.dumps({"error": {"message": str(value)}}), event="error")

        return EventSourceResponse(events(), ping=15)

    @api.get("/sources", summary="The folders being watched")
    def list_sources() -> list[dict[str, Any]]:
        return [s.to_json() for s in service.sources()]

    @api.post("/sources", status_code=status.HTTP_201_CREATED, summary="Watch and index a folder",
              responses=errors(400, 422, why={400: "No such file or folder on this machine, or one that cannot "
                                                   "be a source (the message says why)."}))
    def add_source(req: SourceRequest) -> dict[str, Any]:
        try:
            added, request = service.add_source(req.path)
        except RagdError as exc:
            raise user_error(exc) from None
        return {"path": req.path, "added": added, "request": request}

    @api.delete("/sources", summary="Stop watching a folder and drop its files from the index",
                responses=errors(404, 422, why={404: "Not a source that can be removed here (one from the config "
                                                     "file is removed there)."}))
    def remove_source(path: PathQuery) -> dict[str, Any]:
        try:
            dropped = service.remove_source(path)
        except RagdError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        return {"path": path, "files_dropped": dropped}

    @api.post("/reindex", status_code=status.HTTP_202_ACCEPTED,
              summary="Look at files again (all of them with an empty body); progress is in /v1/status",
              responses=errors(422))
    def reindex(req: Annotated[ReindexRequest | None, Body()] = None) -> dict[str, Any]:
        paths = req.paths if req is not None else []
        return {"queued": paths or "everything", "request": service.reindex(paths)}

    @api.get("/verify", summary="Check that the manifest, the lexical index and the vector store agree")
    def verify() -> dict[str, Any]:
        problems = service.verify()
        return {"ok": not problems, "problems": problems}

    @api.post("/repair", summary="Check the stores; move a damaged one aside and rebuild it (progress in /v1/status)")
    def repair() -> dict[str, Any]:
        return service.repair()

    @api.post("/pause", summary="Pause indexing (changes are still collected)")
    def pause() -> dict[str, Any]:
        service.pause()
        return {"paused": True}

    @api.post("/resume", summary="Resume indexing")
    def resume() -> dict[str, Any]:
        service.resume()
        return {"paused": False}

    @api.get("/files", summary="The index's files, one page at a time (filter by folder, status, path text)",
             responses=errors(422, 503))
    def files(under: Annotated[str | None, Query(max_length=MAX_PATH)] = None,
              status: Annotated[Literal["indexed", "failed", "skipped"] | None, Query()] = None,
              q: Annotated[str | None, Query(max_length=200)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 200,
              offset: Annotated[int, Query(ge=0, le=MAX_INT)] = 0) -> dict[str, Any]:
        return service.files(under, status, q, limit, offset)

    @api.get("/history", summary="Past questions and answers, newest first (search: in question or answer)",
             responses=errors(422))
    def history(search: Annotated[str | None, Query(max_length=200)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50,
                conversation: Annotated[str | None, Query(pattern=CONVERSATION_ID.pattern, description=(
                    "Only this conversation's turns, oldest first."))] = None) -> dict[str, Any]:
        return {"entries": service.history(search, limit, conversation)}

    @api.delete("/history/{entry_id}", summary="Delete one history entry",
                responses=errors(404, 422, why={404: "No history entry with that id."}))
    def forget(entry_id: Annotated[int, FastPath(ge=1, le=MAX_INT)]) -> dict[str, Any]:
        if not service.forget(entry_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no history entry {entry_id}")
        return {"deleted": entry_id}

    @api.post("/open", summary="Open an indexed file with the desktop's own application",
              responses=errors(404, 422, 501, 503, why={404: "Not an indexed file."}))
    def open_file(req: OpenRequest) -> dict[str, Any]:
        try:
            service.open_file(req.path)
        except NotIndexed:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not an indexed file") from None
        except NoOpener as exc:
            raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, str(exc)) from None
        return {"opened": True}

    @api.get("/documents", summary="The index's record of one file (only files that are indexed)",
             responses=errors(404, 422, 503, why={404: "Not a file of the index."}))
    def document(path: PathQuery) -> dict[str, Any]:
        try:
            return service.document(path)
        except NotIndexed:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not an indexed file") from None

    @api.get("/documents/context", summary="The text around a cited passage, its lines marked",
             responses=errors(404, 422, 503, why={404: "Not an indexed file.",
                                             422: "The request does not match this schema, or `line_end` is "
                                                  "before `line_start`."}))
    def context(path: PathQuery,
                line_start: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
                line_end: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
                page: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
                sheet: Annotated[str | None, Query(max_length=200, description="A spreadsheet's sheet (the "
                                                   "lines are then its rows).")] = None,
                slide: Annotated[int | None, Query(ge=1, le=MAX_INT)] = None,
                doc_key: Annotated[str, Query(max_length=200)] = "",
                around: Annotated[int, Query(ge=0, le=200)] = 10) -> dict[str, Any]:
        try:
            if line_start is not None and line_end is not None and line_end < line_start:
                service.document(path)  # an unknown file is a 404 whatever the lines asked for
                raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "line_end is before line_start")
            lines = service.context(path, doc_key, page, line_start, line_end, around, sheet=sheet, slide=slide)
        except NotIndexed:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not an indexed file") from None
        return {"path": path, "page": page, "sheet": sheet, "slide": slide, "line_start": line_start,
                "line_end": line_end, "lines": lines}

    return api
