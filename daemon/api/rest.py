"""The REST API under ``/v1``: status, search, ask (JSON or server-sent events), sources, reindex, documents."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Body, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import JSONResponse, Response

from ragd.daemon.api import NotIndexed, Service
from ragd.daemon.api.streaming import stream_answer
from ragd.daemon.desktop import NoOpener
from ragd.index.errors import RagdError, SourceError
from ragd.index.llm.base import LLMError

MAX_QUERY = 4000  # characters; a question is a sentence or two, not a document


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchRequest(_Strict):
    query: str = Field(min_length=1, max_length=MAX_QUERY, description="What to look for.")
    k: int = Field(5, ge=1, le=100, description="How many hits.")
    mode: Literal["hybrid", "dense", "lexical"] = "hybrid"

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"query": "When were the tomatoes planted?", "k": 5, "mode": "hybrid"}]})


class AskRequest(_Strict):
    question: str = Field(min_length=1, max_length=MAX_QUERY)
    stream: bool = Field(False, description="Server-sent events: `token` events, then one `answer` event.")

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "examples": [{"question": "When were the tomatoes planted?", "stream": False}]})


class SourceRequest(_Strict):
    path: str = Field(min_length=1, max_length=4096, description="A folder (or file) on this machine.")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"path": "~/Documents/notes"}]})


class ReindexRequest(_Strict):
    paths: list[Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=list, max_length=1000, description="Files or folders to look at again; empty = everything.")


def user_error(exc: RagdError) -> HTTPException:
    """A user error as HTTP: the model unavailable is a 503, anything else the caller can fix a 4xx."""
    if isinstance(exc, LLMError):
        return HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc))
    if isinstance(exc, SourceError) and "nothing is indexed" in str(exc):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))


def router(service: Service) -> APIRouter:
    api = APIRouter(prefix="/v1")

    @api.get("/status", summary="Counts, indexing progress (queued, done, failed, current file, ETA), problems")
    def get_status() -> dict[str, Any]:
        return service.status()

    @api.post("/search", summary="Hybrid search over the index")
    def search(req: SearchRequest) -> dict[str, Any]:
        hits = service.search(req.query, req.k, req.mode)
        return {"hits": [h.to_json() for h in hits]}

    @api.post("/ask", summary="Answer a question from the files, with verified citations",
              response_description="The answer as JSON, or with `stream: true` an event stream: `token` events "
                                   "(`{\"text\": ...}`) while the model writes, then one `answer` event with the "
                                   "final answer and its citations (ragd may replace text it cannot match to "
                                   "the files), or an `error` event.")
    async def ask(req: AskRequest) -> Response:
        if not req.stream:
            try:
                answer = await anyio.to_thread.run_sync(service.ask, req.question)
            except RagdError as exc:
                raise user_error(exc) from None
            return JSONResponse(answer.to_json())

        async def events() -> AsyncIterator[ServerSentEvent]:
            async for kind, value in stream_answer(lambda on_token: service.ask(req.question, on_token)):
                if kind == "token":
                    yield ServerSentEvent(json.dumps({"text": value}, ensure_ascii=False), event="token")
                elif kind == "answer" and not isinstance(value, str):
                    yield ServerSentEvent(json.dumps(value.to_json(), ensure_ascii=False), event="answer")
                else:
                    yield ServerSentEvent(json.dumps({"error": {"message": str(value)}}), event="error")

        return EventSourceResponse(events(), ping=15)

    @api.get("/sources", summary="The folders being watched")
    def list_sources() -> list[dict[str, Any]]:
        return service.sources()

    @api.post("/sources", status_code=status.HTTP_201_CREATED, summary="Watch and index a folder")
    def add_source(req: SourceRequest) -> dict[str, Any]:
        try:
            added, request = service.add_source(req.path)
        except RagdError as exc:
            raise user_error(exc) from None
        return {"path": req.path, "added": added, "request": request}

    @api.delete("/sources", summary="Stop watching a folder and drop its files from the index")
    def remove_source(path: Annotated[str, Query(min_length=1, max_length=4096)]) -> dict[str, Any]:
        try:
            dropped = service.remove_source(path)
        except RagdError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
        return {"path": path, "files_dropped": dropped}

    @api.post("/reindex", status_code=status.HTTP_202_ACCEPTED,
              summary="Look at files again (all of them with an empty body); progress is in /v1/status")
    def reindex(req: Annotated[ReindexRequest | None, Body()] = None) -> dict[str, Any]:
        paths = req.paths if req is not None else []
        return {"queued": paths or "everything", "request": service.reindex(paths)}

    @api.get("/verify", summary="Check that the manifest, the lexical index and the vector store agree")
    def verify() -> dict[str, Any]:
        problems = service.verify()
        return {"ok": not problems, "problems": problems}

    @api.post("/pause", summary="Pause indexing (changes are still collected)")
    def pause() -> dict[str, Any]:
        service.pause()
        return {"paused": True}

    @api.post("/resume", summary="Resume indexing")
    def resume() -> dict[str, Any]:
        service.resume()
        return {"paused": False}

    @api.get("/files", summary="The index's files, one page at a time (filter by folder, status, path text)")
    def files(under: Annotated[str | None, Query(max_length=4096)] = None,
              status: Annotated[Literal["indexed", "failed", "skipped"] | None, Query()] = None,
              q: Annotated[str | None, Query(max_length=200)] = None,
              limit: Annotated[int, Query(ge=1, le=1000)] = 200,
              offset: Annotated[int, Query(ge=0)] = 0) -> dict[str, Any]:
        return service.files(under, status, q, limit, offset)

    @api.get("/history", summary="Past questions and answers, newest first (search: in question or answer)")
    def history(search: Annotated[str | None, Query(max_length=200)] = None,
                limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, Any]:
        return {"entries": service.history(search, limit)}

    @api.delete("/history/{entry_id}", summary="Delete one history entry")
    def forget(entry_id: int) -> dict[str, Any]:
        if not service.forget(entry_id):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no history entry {entry_id}")
        return {"deleted": entry_id}

    @api.post("/open", summary="Open an indexed file with the desktop's own application")
    def open_file(req: SourceRequest) -> dict[str, Any]:
        try:
            service.open_file(req.path)
        except NotIndexed:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not an indexed file") from None
        except NoOpener as exc:
            raise HTTPException(status.HTTP_501_NOT_IMPLEMENTED, str(exc)) from None
        return {"opened": True}

    @api.get("/documents", summary="The index's record of one file (only files that are indexed)")
    def document(path: Annotated[str, Query(min_length=1, max_length=4096)]) -> dict[str, Any]:
        try:
            return service.document(path)
        except NotIndexed:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not an indexed file") from None

    @api.get("/documents/context", summary="The text around a cited passage, its lines marked")
    def context(path: Annotated[str, Query(min_length=1, max_length=4096)],
                line_start: Annotated[int | None, Query(ge=1)] = None,
                line_end: Annotated[int | None, Query(ge=1)] = None,
                page: Annotated[int | None, Query(ge=1)] = None,
                doc_key: Annotated[str, Query(max_length=200)] = "",
                around: Annotated[int, Query(ge=0, le=200)] = 10) -> dict[str, Any]:
        if line_start is not None and line_end is not None and line_end < line_start:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "line_end is before line_start")
        try:
            lines = service.context(path, doc_key, page, line_start, line_end, around)
        except NotIndexed:
            raise HTTPException(status.HTTP_404_NOT_FOUND, "not an indexed file") from None
        return {"path": path, "page": page, "line_start": line_start, "line_end": line_end, "lines": lines}

    return api
