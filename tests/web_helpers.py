"""Helpers for the web page's browser tests: screenshots, a page's own errors, a foreign web site, and a daemon
whose model is a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.daemon_proc import Daemon

CHROMIUM = os.environ.get("RAGD_TEST_CHROMIUM", "/usr/bin/chromium")
GARDEN_LOG = ("# Garden log\n\nWe dug the beds in March.\n"
              "The tomatoes were planted on the ninth of April, beside the fence.\n")


def screenshots(tmp_path: Path) -> Path:
    """``$RAGD_TEST_ARTIFACTS/screenshots``, or the test's temporary folder's: made if missing."""
    folder = Path(os.environ.get("RAGD_TEST_ARTIFACTS", tmp_path)) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


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


def new_context(browser: Any) -> Any:
    context = browser.new_context(viewport={"width": 1200, "height": 860}, locale="en-US")
    context.set_default_timeout(20_000)
    return context


def session_link(daemon: Daemon, view: str = "ask") -> str:
    r = daemon.api().post("/v1/session/link", json={"next": f"/#{view}"})
    assert r.status_code == 200, r.text
    url = r.json()["url"]
    assert url.startswith(daemon.url + "/session?")
    return str(url)


def sign_in(browser: Any, daemon: Daemon) -> tuple[Any, list[str]]:
    """A new page of ``browser`` signed in through a one-time link, on the ask view, and its problems (``watch``)."""
    page = new_context(browser).new_page()
    problems = watch(page)
    page.goto(session_link(daemon))
    page.wait_for_url(re.compile(r"/#ask$"))
    return page, problems


@contextmanager
def signed_in_page(daemon: Daemon) -> Iterator[tuple[Any, list[str]]]:
    """``sign_in`` on a Chromium of its own, closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield sign_in(browser, daemon)
        finally:
            browser.close()


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


@contextmanager
def scripted_model(reply: Callable[[str], str]) -> Iterator[str]:
    """An OpenAI-compatible model on loopback that answers every chat with ``reply(prompt)`` (the messages' text
    joined), as one plain JSON reply: the real LLM seam with answers known in advance. Yields its ``/v1`` URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            if not self.path.endswith("/chat/completions"):
                self.send_error(404)
                return
            prompt = "\n".join(m.get("content") or "" for m in request.get("messages", []))
            body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
                               "choices": [{"index": 0, "finish_reason": "stop",
                                            "message": {"role": "assistant", "content": reply(prompt)}}]})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def do_GET(self) -> None:
            self.send_error(404)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def daemon_on_model(root: Path, model_url: str, files: dict[str, str]) -> Iterator[Daemon]:
    """A real ``ragd serve`` over a folder of ``files`` (name: text) under ``root``, answering with the model at
    ``model_url``; yields it once the files are indexed."""
    docs = root / "docs"
    docs.mkdir()
    for name, text in files.items():
        (docs / name).write_text(text, encoding="utf-8")
    home = root / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'[llm]\nbackend = "openai"\nbase_url = "{model_url}"\napi_model = "scripted"\n',
                                      encoding="utf-8")
    daemon = Daemon(home, [docs]).start()
    try:
        daemon.settled()
        yield daemon
    finally:
        daemon.stop_quietly()
