"""The real Runtime behind the real app, in this process, for API tests: fakes go in through its seams."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from starlette.testclient import TestClient

from ragd.daemon.server.app import create_app
from ragd.daemon.server.runtime import Runtime

TOKEN = "k" * 43
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def wait_until(check: Callable[[], Any], timeout: float = 30.0, what: str = "a condition") -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def serving(runtime: Runtime) -> Iterator[TestClient]:
    """The runtime started by the app's lifespan, and a client that sends the token."""
    app = create_app(runtime, TOKEN, 8765, start=runtime.start, stop=runtime.stop)
    with TestClient(app, base_url="http://127.0.0.1:8765", headers=AUTH) as client:
        yield client


def settle(client: TestClient) -> dict[str, Any]:
    """Wait until every change queued so far is written; returns the status."""
    ticket = client.post("/v1/reindex", json={"paths": ["/nonexistent"]}).json()["request"]
    return wait_until(lambda: (s := client.get("/v1/status").json())["indexing"]["done_through"] >= ticket and s,
                      what="the writer")
