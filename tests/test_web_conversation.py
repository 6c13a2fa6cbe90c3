"""The page's conversation thread, its filters and its "Summarise" action, in a real browser (headless Chromium)
against a real ``ragd serve``. The model is an OpenAI-compatible server on loopback with scripted replies: a
standalone question when asked to rewrite a follow-up, the file's own sentence otherwise."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_web_e2e import CHROMIUM, answered, ask, new_context, session_link
from tests.web_helpers import daemon_on_model, scripted_model, watch

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]

GARDEN = ("# Garden log\n\nWe dug the beds in March.\n"
          "The tomatoes were planted on the ninth of April, beside the fence.\n")
REWRITTEN = "Where were the tomatoes planted?"


def reply(prompt: str) -> str:
    return (REWRITTEN if "Standalone question:" in prompt
            else "The tomatoes were planted on the ninth of April, beside the fence [1].")


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    with scripted_model(reply) as url:
        yield url


def test_a_conversation_filters_and_a_summary_on_the_page(tmp_path, model_url):
    shots = Path(os.environ.get("RAGD_TEST_ARTIFACTS", tmp_path)) / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    with daemon_on_model(tmp_path, model_url, {"garden.md": GARDEN}) as daemon, sync_api.sync_playwright() as p:
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
