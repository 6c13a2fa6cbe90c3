"""The MCP server "ragd": tools ``search`` and ``ask`` over Streamable HTTP at ``/mcp``.

Stateless and JSON-only: every POST is a complete exchange, so the daemon keeps no MCP sessions. The
blocking backend calls run in worker threads. How the app factory wires it::

    mcp_asgi, mcp_lifespan = mcp_app(backend)
    app.router.routes.append(mcp_route(mcp_asgi))     # a Route, not app.mount(): see below
    ...and in the app's lifespan:  async with mcp_lifespan(): yield

Clients use ``http://127.0.0.1:PORT/mcp``. ``app.mount("/mcp", ...)`` would only match ``/mcp/...``
and answer a POST to ``/mcp`` with a 307 to ``/mcp/``, which MCP clients do not follow; a
``Route("/mcp")`` whose endpoint is the raw ASGI app takes every method at exactly ``/mcp``.

The lifespan is the SDK session manager's ``run()``; it can be entered once per ``mcp_app`` call.
Host/Origin checks and the bearer token are the daemon's middleware's job, for the whole app.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated, Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, Field
from starlette.routing import Route
from starlette.types import ASGIApp

from ragd.daemon.server.api import Backend
from ragd.daemon.server.api.contract import MAX_QUERY, AskResult, HitOut
from ragd.daemon.server.api.openai_compat import footer, where
from ragd.index.answer.conversations import CONVERSATION_ID
from ragd.index.answer.models import Answer, AskOptions
from ragd.index.errors import RagdError
from ragd.index.models import Hit
from ragd.index.scope import Scope, ScopeError, scope_of

MCP_PATH = "/mcp"

INSTRUCTIONS = (
    "ragd searches and answers questions from the user's own files (documents, notes, mail) on this machine. "
    "Use `ask` for a question: the answer cites the file, page and lines that support it, and says so when the "
    "files do not hold the answer. Use `search` to find passages."
)


class SearchResult(BaseModel):
    hits: list[HitOut] = Field(description="Best first.")


def mcp_app(backend: Backend) -> tuple[ASGIApp, Callable[[], AbstractAsyncContextManager[None]]]:
    """The ASGI app serving MCP (route it at ``MCP_PATH`` with ``mcp_route``) and its lifespan."""
    server = _server(backend)
    server.streamable_http_app(
        streamable_http_path=MCP_PATH, stateless_http=True, json_response=True,
        # Off: the daemon's Guard checks Host and Origin for the whole app, including its extra hosts,
        # which the SDK's own list would not know. (POSTs must still be application/json.)
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )  # builds the session manager; its Starlette app (a Route at MCP_PATH) is not used
    manager = server.session_manager
    return StreamableHTTPASGIApp(manager), manager.run


def mcp_route(app: ASGIApp, path: str = MCP_PATH) -> Route:
    """``app`` at exactly ``path``, every method (a class endpoint is treated as a raw ASGI app)."""
    return Route(path, endpoint=app, name="mcp", include_in_schema=False)


def _server(backend: Backend) -> MCPServer[Any]:
    # MCPServer() calls logging.basicConfig (a rich handler at INFO) when the root logger has no
    # handler yet; logging is configured by the entry point, so give it one for the moment.
    root = logging.getLogger()
    placeholder = logging.NullHandler() if not root.handlers else None
    if placeholder is not None:
        root.addHandler(placeholder)
    try:
        server: MCPServer[Any] = MCPServer("ragd", version=_version(), instructions=INSTRUCTIONS,
                                           log_level="WARNING")
    finally:
        if placeholder is not None:
            root.removeHandler(placeholder)
    read_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(title="Search the user's files", annotations=read_only)
    async def search(
        query: Annotated[str, Field(min_length=1, max_length=MAX_QUERY, description="What to look for.")],
        k: Annotated[int, Field(ge=1, le=50, description="How many passages.")] = 5,
        folder: Folder = None, file_type: FileType = None, since: Since = None, until: Until = None,
    ) -> Annotated[CallToolResult, SearchResult]:
        """Passages of the user's indexed files that match the query (hybrid: meaning and words), best first,
        each with its file, page and lines; optionally only from a folder, a file type or a date range."""
        scope = _scope(folder, file_type, since, until)
        hits = await anyio.to_thread.run_sync(lambda: backend.search(query, k, "hybrid", scope))
        result = SearchResult(hits=[_hit(h) for h in hits])
        text = "\n\n".join(f"{i}. {where(h)}  score {h.score:.3f}\n{h.text}" for i, h in enumerate(hits, 1))
        return CallToolResult(content=[TextContent(text=text or "No matching passages.")],
                              structured_content=result.model_dump(mode="json", by_alias=True))

    @server.tool(title="Ask the user's files", annotations=read_only)
    async def ask(
        question: Annotated[str, Field(min_length=1, max_length=MAX_QUERY, description="The question.")],
        conversation: Annotated[str | None, Field(pattern=CONVERSATION_ID.pattern, description=(
            "A conversation id (any new one starts one): a follow-up such as 'and the beans?' is understood from "
            "the earlier questions of the same id."))] = None,
        folder: Folder = None, file_type: FileType = None, since: Since = None, until: Until = None,
    ) -> Annotated[CallToolResult, AskResult]:
        """Answer a question from the user's indexed files with a local model. Every claim is checked against
        the files: the citations give the file, page, lines and a verbatim quote; `grounded` is false when the
        files do not hold the answer (then `nearest` lists the closest passages)."""
        try:
            options = AskOptions(scope=_scope(folder, file_type, since, until), conversation=conversation)
            answer = await anyio.to_thread.run_sync(lambda: backend.ask(question, None, options))
        except RagdError as exc:
            raise ToolError(str(exc)) from exc
        return CallToolResult(content=[TextContent(text=answer.answer + footer(answer))],
                              structured_content=_ask_result(answer).model_dump(mode="json", by_alias=True))

    return server


Folder = Annotated[str | None, Field(max_length=4096, description=(
    "Only files under this folder (an absolute path), matching a path glob, or in a folder of this name."))]
FileType = Annotated[str | None, Field(max_length=200, description=(
    "Only these file types: extensions or kinds, comma-separated (`pdf`, `md,txt`, `spreadsheet`, `mail`)."))]
Since = Annotated[str | None, Field(max_length=40, description="Modified at or after (`2024-03-01`, `7d`, `today`).")]
Until = Annotated[str | None, Field(max_length=40, description="Modified before (a date alone: through its end).")]


def _scope(folder: str | None, file_type: str | None, since: str | None, until: str | None) -> Scope:
    try:
        return scope_of(within=[folder] if folder else [], types=[file_type] if file_type else [], since=since,
                        until=until)
    except ScopeError as exc:
        raise ToolError(str(exc)) from exc


def _hit(h: Hit) -> HitOut:
    return HitOut.model_validate(h.to_json())


def _ask_result(answer: Answer) -> AskResult:
    return AskResult.model_validate(answer.to_json())  # the answer's one JSON shape, less what REST adds


def _version() -> str:
    try:
        return version("ragd")
    except PackageNotFoundError:
        return "0"
