"""What the HTTP API promises in its schema: limits shared by every face, the error body, and the
statuses each route documents (``responses=``), so that ``/openapi.json`` lists every status a route
can answer with, and its body.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import status
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ragd.index.errors import NothingIndexed, NotInIndex, RagdError
from ragd.index.llm.base import LLMError
from ragd.index.store.health import IndexDamaged

MAX_QUERY = 4000  # characters of a question or a search (REST, chat, MCP): a sentence or two, not a document
MAX_PATH = 4096  # characters of a path (Linux's PATH_MAX)
MAX_INT = 2**63 - 1  # SQLite's largest integer: an offset or an id past it would fail in the catalog (500)
NO_NUL = r"^[^\x00]*$"  # a path with a NUL byte cannot name a file: a 422, not an error deep in os.path


def _whole(value: object) -> object:
    """JSON Schema's ``integer`` includes ``77.0``: take it as 77 (strict models refuse every float)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


WholeNumber = Annotated[int, BeforeValidator(_whole)]  # for strict request models: never a bool or a string


class Located(BaseModel):
    """Where a passage is: one field set for hits and citations everywhere (REST, SSE, MCP, OpenAI-compatible)."""

    path: str = Field(description="The file's path, or the item's URL (a message: `imap://.../;UIDVALIDITY=v/;UID=u`).")
    title: str | None = Field(None, description="The document's title (a message's subject), if it has one.")
    page: int | None = Field(None, description="1-based page: of a PDF, or of a (multi-page) image read by OCR.")
    line_start: int | None = Field(None, description="1-based first line of the passage in its file or page; in a "
                                                     "spreadsheet (`sheet` set) its first row.")
    line_end: int | None = Field(None, description="Last line (or row), inclusive.")
    sheet: str | None = Field(None, description="The spreadsheet's sheet the rows are on (xlsx, xls, ods).")
    slide: int | None = Field(None, description="1-based slide of a presentation (pptx, odp).")
    ocr: bool = Field(False, description="The text was read from an image by OCR (a scan, a photo).")


class CitationOut(Located):
    """One verified citation (REST, SSE, MCP and the OpenAI-compatible route)."""

    n: int = Field(description="The source number used in the answer text, `[n]`.")
    quote: str = Field(description="Text that occurs verbatim (whitespace aside) in the file at this place.")


class HitOut(Located):
    """One search result."""

    score: float
    text: str
    heading: list[str] = Field(default_factory=list, description="The heading path above the passage.")
    doc_key: str = Field("", description="Which document of the file (a message of an mbox), empty for most.")
    chunk_id: str = ""


class SearchOut(BaseModel):
    hits: list[HitOut]


class ScopeOut(BaseModel):
    """The filters a question was asked within (dates as ISO date-times)."""

    model_config = ConfigDict(populate_by_name=True)

    within: list[str] = Field(alias="in")
    type: list[str]
    since: str | None
    until: str | None
    files: list[str]


class SentenceOut(BaseModel):
    """One sentence of an answer and its support in the files (REST, SSE, MCP and the OpenAI-compatible route)."""

    start: int = Field(description="Where the sentence starts in `answer` (a character offset).")
    end: int = Field(description="Where it ends in `answer`.")
    text: str = Field(description="The sentence without its `[n]` markers.")
    support: Literal["supported", "partly", "unsupported"] = Field(
        description="`supported`: the cited source holds it, numbers, names and negation included; `partly`: the "
                    "source holds much of it but not all (`missing` says what); `unsupported`: not found in "
                    "the files.")
    citations: list[int] = Field(description="Indices into the answer's `citations` for this sentence.")
    missing: list[str] = Field(description="Its numbers, names or negation that the source lacks.")


SUPPORTED_SHARE = ("The share of the answer's sentences (by length) that the files support; null when it makes no "
                   "claim (a refusal). `grounded` says that the files hold evidence for the question at all, "
                   "not that every sentence is supported.")


class AskResult(BaseModel):
    """An answer with its verified citations (MCP's ``ask``; REST adds the question, model and timings)."""

    answer: str
    grounded: bool = Field(description="Whether the files hold evidence for the question (see `sentences` for "
                                       "what each sentence rests on).")
    supported_share: float | None = Field(description=SUPPORTED_SHARE)
    sentences: list[SentenceOut] = Field(description="The answer's sentences, each with its support verdict.")
    left_out: list[str] = Field(description="Unsupported sentences left out of `answer` ([answer] unsupported = "
                                            "\"drop\").")
    citations: list[CitationOut]
    nearest: list[HitOut] = Field(description="When not grounded: the passages closest to the question.")
    searched: str = Field(description="What was searched: the question, or in a conversation its standalone form "
                                      "(a follow-up made to stand alone).")
    conversation: str | None = Field(None, description="The conversation the question belongs to, if any.")
    scope: ScopeOut | None = Field(None, description="The filters the answer was drawn within, if any.")
    notice: str | None = Field(None, description="A word for the reader about what wrote the answer, e.g. that the "
                                                 "tiny demo model did and a bigger one should be configured; null "
                                                 "when there is none.")


class AnswerOut(AskResult):
    """An answer as ``/v1/ask`` and the SSE ``answer`` event give it."""

    question: str
    model: str
    timings: dict[str, float] = Field(description="Seconds spent: search, first_token, total, ...")


class Problem(BaseModel):
    where: str = Field(description="The request field, e.g. `body.query`.")
    problem: str


class ErrorDetail(BaseModel):
    message: str = Field(description="What went wrong, for a person.")
    type: str | None = Field(None, description="`invalid_request_error` or `server_error` (OpenAI's kinds).")
    code: int | str | None = Field(None, description="The HTTP status, or a short name (`unauthorized`, ...).")
    param: str | None = Field(None, description="The request field at fault (422s, OpenAI-compatible routes).")
    details: list[Problem] | None = Field(None, description="422: each invalid field.")


class ErrorBody(BaseModel):
    """Every error, from any route or from the guard in front of them: ``{"error": {"message", ...}}``."""

    error: ErrorDetail


WHY: dict[int, str] = {
    status.HTTP_400_BAD_REQUEST: "The request is well formed but cannot be done (the message says why).",
    status.HTTP_401_UNAUTHORIZED: "No token, or a wrong one: send `Authorization: Bearer <token>`.",
    status.HTTP_403_FORBIDDEN: "Refused: a `Host` that is not this machine, or a foreign `Origin` (another web page).",
    status.HTTP_404_NOT_FOUND: "Not found.",
    status.HTTP_409_CONFLICT: "Not possible yet: nothing is indexed.",
    status.HTTP_413_CONTENT_TOO_LARGE: "The request body is larger than the daemon accepts (256 KiB by default).",
    status.HTTP_422_UNPROCESSABLE_CONTENT: "The request does not match this schema (`details` lists each field).",
    status.HTTP_501_NOT_IMPLEMENTED: "This machine has no desktop opener.",
    status.HTTP_503_SERVICE_UNAVAILABLE: "The index is damaged and being rebuilt: try again after `Retry-After` "
                                         "seconds.",
}
LLM_503 = "The language model cannot be loaded or failed, or the index is being rebuilt (`Retry-After`)."

# What the guard in front of every route may answer (``ragd.daemon.server.security.Guard``), and FastAPI's 422.
GUARD = (status.HTTP_401_UNAUTHORIZED, status.HTTP_403_FORBIDDEN, status.HTTP_413_CONTENT_TOO_LARGE)
PUBLIC_GUARD = (status.HTTP_403_FORBIDDEN, status.HTTP_413_CONTENT_TOO_LARGE)  # /healthz: no token needed
HEADERS: dict[int, dict[str, Any]] = {
    status.HTTP_401_UNAUTHORIZED: {"WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}},
    status.HTTP_503_SERVICE_UNAVAILABLE: {"Retry-After": {"description": "Seconds, when the index is being rebuilt.",
                                                          "schema": {"type": "string"}}},
}


def errors(*codes: int, why: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the error body; ``why`` overrides descriptions."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        out[code] = {"model": ErrorBody, "description": (why or {}).get(code, WHY[code])}
        if code in HEADERS:
            out[code]["headers"] = HEADERS[code]
    return out


def error_status(exc: RagdError) -> int:
    """The status of a user error: the model unavailable or the index being rebuilt is a 503, nothing indexed
    a 409, anything else a 400."""
    if isinstance(exc, LLMError | IndexDamaged):
        return status.HTTP_503_SERVICE_UNAVAILABLE
    if isinstance(exc, NothingIndexed):
        return status.HTTP_409_CONFLICT
    if isinstance(exc, NotInIndex):
        return status.HTTP_404_NOT_FOUND
    return status.HTTP_400_BAD_REQUEST
