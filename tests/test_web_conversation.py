"""The page's conversation thread, its filters and its "Summarise" action, in a real browser (headless Chromium)
against a real ``ragd serve``. The model is an OpenAI-compatible server on loopback with scripted replies: a
standalone question when asked to rewrite a follow-up, the file's own sentence otherwise."""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_proc import Daemon
from tests.test_web_e2e import CHROMIUM, answered, ask, new_context, session_link
from tests.web_helpers import watch

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]

GARDEN = ("# Garden log\n\nWe dug the beds in March.\n"
          "The tomatoes were planted on the ninth of April, beside the fence.\n")
REWRITTEN = "Where were the tomatoes planted?"


class ScriptedModel(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if not self.path.endswith("/chat/completions"):
            self.send_error(404)
            return
        prompt = "\n".join(m.get("content") or "" for m in request.get("messages", []))
        content = (REWRITTEN if "Standalone question:" in prompt
                   else "The tomatoes were planted on the ninth of April, beside the fence [1].")
        body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "scripted",
                           "choices": [{"index": 0, "finish_reason": "stop",
                                        "message": {"role": "assistant", "content": content}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedModel)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_a_conversation_filters_and_a_summary_on_the_page(tmp_path, model_url):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "garden.md").write_text(GARDEN, encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text(f'[llm]\nbackend = "openai"\nbase_url = "{model_url}"\napi_model = "scripted"\n',
                                      encoding="utf-8")
    daemon = Daemon(home, [docs]).start()
    shots = Path(os.environ.get("RAGD_TEST_ARTIFACTS", tmp_path)) / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    try:
        daemon.settled()
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = new_context(browser).new_page()
            problems = watch(page)
            page.goto(session_link(daemon))
            page.wait_for_url(re.compile(r"/#ask$"))

            # a conversation: the follow-up is searched in its standalone form, the first turn kept above
            ask(page, "When were the tomatoes planted?")
            answered(page)
            assert page.is_hidden("#thread-box") and page.is_hidden("#answer-searched")
            ask(page, "And where were they put?")
            answered(page)
            assert page.get_attribute("#answer", "data-grounded") == "true"
            assert page.text_content("#answer-searched") == f"Searched for: {REWRITTEN}"
            turns = page.locator("#thread .turn-question")
            assert turns.count() == 1 and turns.first.text_content() == "When were the tomatoes planted?"
            page.screenshot(path=str(shots / "conversation-thread.png"), full_page=True)
            history = daemon.api().get("/v1/history", params={"limit": 10}).json()["entries"]
            assert history[0]["conversation"] and history[0]["conversation"] == history[1]["conversation"]

            page.click("#new-conversation")
            assert page.is_hidden("#thread-box") and page.locator("#thread .turn").count() == 0

            # filters: only PDFs, of which there are none, so the files do not hold the answer
            page.click("#ask-scope summary")
            page.fill("#scope-type", "pdf")
            ask(page, "When were the tomatoes planted?")
            answered(page)
            assert page.get_attribute("#answer", "data-grounded") == "false"
            page.fill("#scope-type", "")

            # "Summarise" on a file of the Sources view reads it whole, with its citations
            page.goto(page.url.split("#")[0] + "#sources")
            row = page.locator("#file-rows tr", has_text="garden.md")
            row.locator("button.summarise").click()
            page.wait_for_url(re.compile(r"/#ask$"))
            answered(page)
            assert "garden.md" in (page.text_content("#answer-question") or "")
            assert "Read whole: garden.md" in (page.text_content("#answer-text") or "")
            assert page.locator("#answer-text button.cite").count() >= 1
            assert page.locator("#citation-list li").count() >= 1
            page.screenshot(path=str(shots / "summarise-file.png"), full_page=True)
            assert not problems, problems
            browser.close()
    finally:
        daemon.stop_quietly()
