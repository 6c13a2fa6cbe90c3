"""The MCP SDK's own client against a daemon that wants its token."""

from __future__ import annotations

from typing import Any


async def call_tools(url: str, token: str, query: str, question: str) -> tuple[list[str], Any, Any]:
    """List the tools, call ``search`` and ``ask``; return (tool names, search result, ask result) as JSON."""
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=300, trust_env=False) as http, \
            Client(streamable_http_client(url, http_client=http)) as client:
        tools = [t.name for t in (await client.list_tools()).tools]
        search = await client.call_tool("search", {"query": query, "k": 3})
        answer = await client.call_tool("ask", {"question": question})
    assert not search.is_error and not answer.is_error
    return tools, search.model_dump(mode="json"), answer.model_dump(mode="json")
