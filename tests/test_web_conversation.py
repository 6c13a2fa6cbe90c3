"""The page's conversation thread, its filters and its "Summarise" action, in a real browser (headless Chromium)
against a real ``ragd serve``. The model is an OpenAI-compatible server on loopback with scripted replies: a
standalone question when asked to rewrite a follow-up, the file's own sentence otherwise."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_web_e2e import answered, ask
from tests.web_helpers import CHROMIUM, GARDEN_LOG, daemon_on_model, screenshots, scripted_model, signed_in_page

pytest.importorskip("playwright.sync_api")  # no Playwright: the module is skipped

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]

REWRITTEN = "Where were the tomatoes planted?"


def reply(prompt: str) -> str:
    return (REWRITTEN if "Standalone question:" in prompt
            else "The tomatoes were planted on the ninth of April, beside the fence [1].")


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    with scripted_model(reply) as url:
        yield url


def test_a_conversation_filters_and_a_summary_on_the_page(tmp_path, model_url):
    shots = screenshots(tmp_path)
    with daemon_on_model(tmp_path, model_url, {"garden.md": GARDEN_LOG}) as daemon, \
            signed_in_page(daemon) as (page, problems):

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
