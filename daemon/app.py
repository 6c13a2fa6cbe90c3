"""The app factory: ``create_app(runtime, token, port)``; no global state.

The lifespan starts the runtime (writer lock, start-up scan, watcher, scheduler) and the MCP
session manager, and stops them in reverse order. Every route sits behind ``Guard``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from ragd.daemon import web
from ragd.daemon.api import Service, openai_compat, rest
from ragd.daemon.api.mcp_server import mcp_app, mcp_route
from ragd.daemon.security import Guard
from ragd.daemon.sessions import Sessions

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return version("ragd")
    except PackageNotFoundError:
        return "0"


def create_app(service: Service, token: str, port: int, *, start: Callable[[], None] | None = None,
               stop: Callable[[], None] | None = None, extra_hosts: frozenset[str] = frozenset(),
               max_body: int = 256 * 1024) -> Guard:
    """The daemon's ASGI app. ``start``/``stop`` run in the lifespan (the runtime's own, in the daemon)."""
    mcp_asgi, mcp_lifespan = mcp_app(service)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if start is not None:
            await anyio.to_thread.run_sync(start)
        try:
            async with _entered(mcp_lifespan):
                yield
        finally:
            if stop is not None:
                await anyio.to_thread.run_sync(stop)

    sessions = Sessions()
    app = FastAPI(
        title="ragd", version=_version(), lifespan=lifespan,
        docs_url=None, redoc_url=None,  # their pages load scripts from a CDN; the schema is at /openapi.json
        summary="Ask your own files, on your own machine: search, grounded answers with citations, sources.",
        description="Every endpoint but `/healthz` and the web page's files needs `Authorization: Bearer <token>`; "
                    "the token is in the daemon's token file (mode 0600). The web page uses a session cookie "
                    "from a one-time link (`POST /v1/session/link`) instead. Errors are JSON: "
                    "`{\"error\": {\"message\", \"type\"}}`.",
    )

    @app.get("/healthz", summary="Liveness (no token needed)")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "service": "ragd", "version": _version()}

    app.include_router(rest.router(service))
    app.include_router(openai_compat.router(service))
    app.router.routes.append(mcp_route(mcp_asgi))  # exactly /mcp: a mount would redirect POST /mcp to /mcp/
    web.mount(app, sessions)
    _error_handlers(app)
    return Guard(app, token, port=port, extra_hosts=extra_hosts, max_body=max_body, sessions=sessions)


@asynccontextmanager
async def _entered(factory: Callable[[], AbstractAsyncContextManager[None]]) -> AsyncIterator[None]:
    async with factory():
        yield


def _error_handlers(app: FastAPI) -> None:
    """One error shape everywhere, compatible with OpenAI clients: ``{"error": {"message", "type", ...}}``."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        return JSONResponse({"error": {"message": str(exc.detail), "type": kind, "code": exc.status_code}},
                            status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
                    for e in exc.errors()]
        message = "; ".join(f"{p['where']}: {p['problem']}" for p in problems) or "invalid request"
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": 422,
                                       "details": problems}}, status_code=422)
