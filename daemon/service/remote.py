"""The application interface over a running daemon's HTTP API (the daemon is the only writer).

Kept light (httpx and the records): with a daemon running, ``ragd search`` never imports torch, llama.cpp or
chromadb. Writes are requests the daemon numbers; this side waits until ``indexing.done_through`` reaches the
number, showing the daemon's progress, and reports the run as the change in the daemon's running totals.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import httpx

from ragd.daemon.config import Config
from ragd.daemon.service import NOTHING_TO_INDEX, OnToken, Progress
from ragd.daemon.service.client import DaemonClient
from ragd.daemon.service.records import RepairReport, SourceInfo
from ragd.index.answer.models import Answer, AskOptions
from ragd.index.errors import RagdError, SourceError
from ragd.index.models import Hit, IndexStats, Mode
from ragd.index.paths import resolve_paths
from ragd.index.scope import Scope

POLL_S = 0.2


def scope_fields(scope: Scope | None) -> dict[str, Any]:
    """A scope as the API's request fields (``in``, ``type``, ``since``, ``until``, ``files``), only those set."""
    if not scope:
        return {}
    return {k: v for k, v in scope.to_json().items() if v}


class RemoteService:
    def __init__(self, client: DaemonClient) -> None:
        self.client = client
        self.url: str | None = client.url

    @classmethod
    def find(cls, config: Config, timeout: float | None = None) -> RemoteService | None:
        """The daemon running now, or None; ``timeout`` caps each request (the tray must not hang on one)."""
        client = DaemonClient.find(config.daemon_path, config.token_path)
        if client is None:
            return None
        if timeout is not None:
            client.http.timeout = httpx.Timeout(timeout, connect=2.0)
        return cls(client)

    def close(self) -> None:
        self.client.close()

    # -- writes ------------------------------------------------------------------------------
    def index(self, roots: Sequence[str], progress: Progress | None = None) -> IndexStats:
        before = self._totals()
        started = time.monotonic()
        if roots:
            request = max(int(self.client.post("/v1/sources", {"path": root})["request"]) for root in roots)
        else:
            if not self.client.get("/v1/sources"):
                raise SourceError(NOTHING_TO_INDEX)
            request = int(self.client.post("/v1/reindex", {"paths": []})["request"])
        state = self._wait_for(request, progress)
        after = state["indexing"]["totals"]
        run = IndexStats.between(before, after)
        run.seconds = round(time.monotonic() - started, 3)
        run.failures = list(after.get("failures") or [])[-run.files_failed:] if run.files_failed else []
        return run

    def remove_source(self, path: str) -> int:
        root = resolve_paths([path])[0]
        return int(self.client.delete("/v1/sources", {"path": root})["files_dropped"])

    def repair(self, progress: Progress | None = None) -> RepairReport:
        reply = self.client.post("/v1/repair", {})
        state = self._wait_for(int(reply["request"]), progress)
        return RepairReport(list(reply["repairs"]), state["indexed"], state["failed"], state["chunks"])

    def _totals(self) -> dict[str, Any]:
        return dict(self.client.get("/v1/status")["indexing"]["totals"])

    def _wait_for(self, request: int, progress: Progress | None) -> dict[str, Any]:
        """Wait until the daemon has written request number ``request``; returns its last status."""
        while True:
            state: dict[str, Any] = self.client.get("/v1/status")
            run = state["indexing"]
            if run["done_through"] >= request:
                return state
            if run.get("out_of_space"):  # it waits for free space: say so rather than wait with it
                raise RagdError(run["out_of_space"]["message"])
            if progress is not None and run["batch"]["total"]:
                progress(run["batch"]["done"], run["batch"]["total"], run["current"] or "")
            time.sleep(POLL_S)

    # -- reads -------------------------------------------------------------------------------
    def search(self, query: str, k: int, mode: Mode, scope: Scope | None = None) -> list[Hit]:
        reply = self.client.post("/v1/search", {"query": query, "k": k, "mode": mode, **scope_fields(scope)})
        return [Hit.from_json(h) for h in reply["hits"]]

    def ask(self, question: str, on_token: OnToken | None = None, options: AskOptions | None = None) -> Answer:
        opts = options or AskOptions()
        body: dict[str, Any] = {"question": question, **scope_fields(opts.scope)}
        if opts.conversation is not None:
            body["conversation"] = opts.conversation
        if opts.turns:
            body["turns"] = [t.to_json() for t in opts.turns]
        if on_token is None:
            return Answer.from_json(self.client.post("/v1/ask", body))
        for event, data in self.client.events("/v1/ask", {**body, "stream": True}):
            if event == "token":
                on_token(data["text"])
            elif event == "answer":
                return Answer.from_json(data)
            elif event == "error":
                raise RagdError(data["error"]["message"])
        raise RagdError("the daemon ended the answer early")

    def sources(self) -> list[SourceInfo]:
        return [SourceInfo.from_json(s) for s in self.client.get("/v1/sources")]

    def status(self) -> dict[str, Any]:
        return {**self.client.get("/v1/status"), "daemon": self.url}

    def verify(self) -> list[str]:
        return list(self.client.get("/v1/verify")["problems"])

    def pause(self) -> None:
        self.client.post("/v1/pause")

    def resume(self) -> None:
        self.client.post("/v1/resume")

    def page_link(self, next_path: str) -> str:
        url = str(self.client.post("/v1/session/link", {"next": next_path})["url"])
        return self.client.url + url if url.startswith("/") else url

    def notices(self) -> list[str]:
        return []  # the daemon re-embeds an index built with another model when it starts
