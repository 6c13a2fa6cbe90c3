"""Helpers for the web page's browser tests: screenshots, a page's own errors, and a foreign web site."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class Shots:
    """Numbered screenshots of each step, in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def take(self, page: Any, name: str) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def watch(page: Any) -> list[str]:
    """Uncaught errors and Content-Security-Policy violations of ``page``, as they happen."""
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def on_console(message: Any) -> None:
        if message.type == "error" and re.search(r"Content Security Policy|Refused to", message.text):
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    return problems


# A page of another web site that tries to use the daemon through the user's browser: it reads the
# status with the user's cookies, and sends a "simple" cross-site POST (what a CSRF form would do).
FOREIGN_PAGE = """<!doctype html><meta charset="utf-8"><title>elsewhere</title>
<script>
const target = new URLSearchParams(location.search).get("target");
const read = fetch(target + "/v1/status", {credentials: "include"})
  .then(r => r.text().then(t => "read " + r.status + " " + t), e => "rejected " + e.name);
const write = fetch(target + "/v1/pause", {method: "POST", credentials: "include", mode: "no-cors",
                                           headers: {"Content-Type": "text/plain"}, body: "{}"})
  .then(r => "sent, response " + r.type, e => "rejected " + e.name);
Promise.all([read, write]).then(([r, w]) => { window.results = {read: r, write: w}; document.title = "done"; });
</script>"""


@contextmanager
def foreign_site() -> Iterator[str]:
    """A second web server on loopback (another origin) serving ``FOREIGN_PAGE``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = FOREIGN_PAGE.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
