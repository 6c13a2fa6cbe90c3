"""The MCP server through the SDK's own client, over Streamable HTTP against a real uvicorn server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import TextContent

from ragd.daemon.server.api.mcp_server import mcp_app, mcp_route
from tests.servers import serve_in_thread
from tests.test_openai_compat import CITATION, HIT, PIECES, FakeBackend

BACKEND = FakeBackend()


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    """The app wired as the daemon's factory wires it: a Route at /mcp, the session manager in the lifespan."""
    mcp_asgi, mcp_lifespan = mcp_app(BACKEND)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with mcp_lifespan():
            yield

    app = FastAPI(lifespan=lifespan)
    app.router.routes.append(mcp_route(mcp_asgi))
    with serve_in_thread(app) as base:
        yield f"{base}/mcp"


def run(url: str, mode: str, calls: Any) -> Any:
    async def main() -> Any:
        async with Client(url, mode=mode) as client:
            return await calls(client)
    return asyncio.run(main())


MODES = ["auto", "legacy"]  # auto: the 2026 protocol (server/discover); legacy: the initialize handshake


@pytest.mark.parametrize("mode", MODES)
def test_tools_listed(url: str, mode: str) -> None:
    async def calls(client: Client) -> Any:
        return (await client.list_tools()).tools

    tools = {t.name: t for t in run(url, mode, calls)}
    assert set(tools) == {"search", "ask"}
    assert tools["search"].input_schema["required"] == ["query"]
    assert tools["search"].input_schema["properties"]["k"]["default"] == 5
    assert tools["ask"].input_schema["required"] == ["question"]
    assert "citations" in (tools["ask"].output_schema or {})["properties"]
    assert tools["ask"].annotations is not None and tools["ask"].annotations.read_only_hint is True


@pytest.mark.parametrize("mode", MODES)
def test_search(url: str, mode: str) -> None:
    async def calls(client: Client) -> Any:
        return await client.call_tool("search", {"query": "tomatoes", "k": 3})

    result = run(url, mode, calls)
    assert not result.is_error
    assert result.structured_content == {"hits": [HIT.to_json()]}  # the one shape of a hit, as REST gives it
    hit = result.structured_content["hits"][0]
    assert hit["line_start"] == 3 and hit["ocr"] is False
    text = result.content[0]
    assert isinstance(text, TextContent) and text.text.startswith("1. /notes/garden.md (lines 3-4)  score 0.900\n")


@pytest.mark.parametrize("mode", MODES)
def test_ask(url: str, mode: str) -> None:
    async def calls(client: Client) -> Any:
        return await client.call_tool("ask", {"question": "When were the tomatoes planted?"})

    result = run(url, mode, calls)
    assert not result.is_error
    structured = result.structured_content
    assert structured["answer"] == "".join(PIECES) and structured["grounded"] is True
    assert structured["citations"][0] == {"n": 1, "path": CITATION.path, "title": None, "page": None, "line_start": 3,
                                          "line_end": 4, "sheet": None, "slide": None, "ocr": False,
                                          "quote": CITATION.quote}
    assert structured["nearest"] == []
    assert structured["supported_share"] == 1.0 and structured["left_out"] == []
    assert structured["sentences"][0]["support"] == "supported" and structured["sentences"][0]["citations"] == [0]
    text = result.content[0]
    assert isinstance(text, TextContent) and "\n\nSources:\n[1] /notes/garden.md (lines 3-4)" in text.text


def test_ask_not_grounded_and_errors(url: str) -> None:
    async def calls(client: Client) -> Any:
        return (await client.call_tool("ask", {"question": "unknown"}),
                await client.call_tool("ask", {"question": "model missing"}),
                await client.call_tool("search", {"query": ""}))

    unknown, missing, invalid = run(url, "auto", calls)
    assert unknown.structured_content["grounded"] is False
    assert unknown.structured_content["nearest"][0]["path"] == HIT.path
    assert missing.is_error and "model file is missing" in missing.content[0].text
    assert invalid.is_error


def test_filters_and_conversations_reach_the_backend(url: str) -> None:
    async def calls(client: Client) -> Any:
        searched = await client.call_tool("search", {"query": "tomatoes", "folder": "/notes/garden",
                                                     "file_type": "md,txt", "since": "2024-01"})
        scope = BACKEND.scope
        asked = await client.call_tool("ask", {"question": "And the beans?", "conversation": "garden-1",
                                               "file_type": "spreadsheet"})
        bad = await client.call_tool("search", {"query": "tomatoes", "since": "last tuesday-ish"})
        return searched, scope, asked, bad

    searched, scope, asked, bad = run(url, "auto", calls)
    assert not searched.is_error and scope.within == ("/notes/garden",) and scope.types == ("md", "txt")
    assert scope.since is not None and scope.until is None
    assert not asked.is_error and BACKEND.options.conversation == "garden-1"
    assert "xlsx" in BACKEND.options.scope.types
    assert "xlsx" in asked.structured_content["scope"]["type"] and asked.structured_content["scope"]["in"] == []
    assert bad.is_error and "not a date" in bad.content[0].text


def test_endpoint_is_exactly_mcp(url: str) -> None:
    """POST /mcp is served in place (no redirect to /mcp/), with plain JSON responses."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}}
    response = httpx.post(url, json=body, headers={"Accept": "application/json, text/event-stream"}, timeout=20,
                          follow_redirects=False)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["result"]["serverInfo"]["name"] == "ragd"
    assert "mcp-session-id" not in response.headers  # stateless


def test_via_transport(url: str) -> None:
    """The lower-level spelling: the Streamable HTTP transport with an explicit HTTP client (e.g. with a token)."""
    import httpx2

    async def main() -> Any:
        async with httpx2.AsyncClient(headers={"Authorization": "Bearer t"}) as http, \
                Client(streamable_http_client(url, http_client=http)) as client:
            return await client.call_tool("search", {"query": "tomatoes"})

    assert not asyncio.run(main()).is_error
