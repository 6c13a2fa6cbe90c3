"""The app factory: ``create_app(runtime, token, port)``; no global state.

The lifespan starts the runtime (writer lock, start-up scan, watcher, scheduler) and the MCP
session manager, and stops them in reverse order. Every route sits behind ``Guard``; behind it,
``AllowedMethods`` answers ``OPTIONS``. ``/openapi.json`` is the contract: every status a route can
answer with, the guard's included, and one error body (``contract.ErrorBody``).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import anyio
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Match

from ragd.daemon.server import web
from ragd.daemon.server.api import DaemonBackend, openai_compat, rest
from ragd.daemon.server.api.contract import GUARD, HEADERS, PUBLIC_GUARD, WHY, ErrorBody
from ragd.daemon.server.api.mcp_server import mcp_app, mcp_route
from ragd.daemon.server.security import PUBLIC_PATHS, Guard, Message, Receive, Scope, Send
from ragd.daemon.server.sessions import Sessions
from ragd.index.store.health import IndexDamaged

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        return version("ragd")
    except PackageNotFoundError:
        return "0"


def create_app(service: DaemonBackend, token: str, port: int, *, start: Callable[[], None] | None = None,
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
                    "`{\"error\": {\"message\", \"type\"}}`. `OPTIONS` on a path lists its methods in `Allow`.",
    )

    @app.get("/healthz", summary="Liveness (no token needed)")
    def healthz() -> dict[str, Any]:
        return {"ok": True, "service": "ragd", "version": _version()}

    app.include_router(rest.router(service))
    app.include_router(openai_compat.router(service))
    app.router.routes.append(mcp_route(mcp_asgi))  # exactly /mcp: a mount would redirect POST /mcp to /mcp/
    web.mount(app, sessions)
    _error_handlers(app)
    _documented(app)
    return Guard(AllowedMethods(app), token, port=port, extra_hosts=extra_hosts, max_body=max_body,
                 sessions=sessions)


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
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [{"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
                    for e in exc.errors()]
        message = "; ".join(f"{p['where']}: {p['problem']}" for p in problems) or "invalid request"
        sent = request.headers.get("content-type", "")
        if request.method == "POST" and "json" not in sent:  # curl -d sends a form's type
            message += (f" (the body was sent as {sent or 'no content type'}: send it as JSON, with the header "
                        "Content-Type: application/json)")
        param = problems[0]["where"] if problems else None  # as OpenAI names the field at fault
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": 422,
                                       "param": param, "details": problems}}, status_code=422)

    @app.exception_handler(IndexDamaged)
    async def damaged(_: Request, exc: IndexDamaged) -> JSONResponse:  # the writer is rebuilding the store
        return JSONResponse({"error": {"message": str(exc), "type": "server_error", "code": 503}}, status_code=503,
                            headers={"Retry-After": "5"})


class AllowedMethods:
    """``OPTIONS`` answered, and a 405's ``Allow`` completed, with the methods of every route at the path.

    Starlette tries routes one by one: a 405 lists only the methods of the first route whose path
    matched (``GET`` for /v1/sources, which has POST and DELETE too), and ``OPTIONS`` was such a 405.
    """

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def methods(self, scope: Scope) -> set[str] | None:
        """The methods of the routes at this path; None when none matches or one takes any method (/mcp)."""
        found: set[str] = set()
        for route in _leaves(self.app.router.routes):
            match, _ = route.matches(scope)
            if match is Match.NONE:
                continue
            methods: set[str] | None = getattr(route, "methods", None)
            if methods is None:  # a mount or a raw ASGI app: it answers every method itself
                return None
            found |= methods
        return found or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        methods = self.methods(scope) if scope["type"] == "http" else None
        if methods is None:
            await self.app(scope, receive, send)
            return
        allow = ", ".join(sorted(methods | {"OPTIONS"}))
        if scope["method"] == "OPTIONS":
            await Response(status_code=204, headers={"Allow": allow})(scope, receive, send)
            return

        async def completed_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", allow.encode())]}
            await send(message)

        await self.app(scope, receive, completed_allow)


def _leaves(routes: Iterable[BaseRoute]) -> Iterator[BaseRoute]:
    """The routes themselves: recent FastAPI keeps an included router as one route holding the router
    (its routes carry their full paths; the daemon includes routers without a prefix)."""
    for route in routes:
        included = getattr(route, "original_router", None)
        if isinstance(included, APIRouter):
            yield from _leaves(included.routes)
        else:
            yield route


def _documented(app: FastAPI) -> None:
    """The schema with what FastAPI cannot know: the bearer token, the guard's statuses on every route,
    and the daemon's own 422 body instead of FastAPI's."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _add_contract(generate())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _add_contract(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    error = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(error.pop("$defs", {}))
    schemas["ErrorBody"] = error
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body, replaced below
        schemas.pop(unused, None)
    components["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer",
        "description": "The token in the daemon's token file (`ragd status` shows where)."}}
    schema["security"] = [{"bearer": []}]
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for path, item in schema.get("paths", {}).items():
        for operation in item.values():
            public = path in PUBLIC_PATHS
            if public:
                operation["security"] = []
            responses = operation.setdefault("responses", {})
            for code in PUBLIC_GUARD if public else GUARD:
                responses.setdefault(str(code), {"description": WHY[code], "content": body,
                                                 **({"headers": HEADERS[code]} if code in HEADERS else {})})
            if "requestBody" in operation:  # FastAPI's own answer to a body that is not JSON (or not UTF-8)
                responses.setdefault("400", {"description": "The body cannot be read as JSON.", "content": body})
            if "422" in responses:
                responses["422"]["content"] = body
                if responses["422"].get("description") == "Validation Error":
                    responses["422"]["description"] = WHY[422]
