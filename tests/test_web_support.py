"""The page marks the sentences of an answer that the files do not support, in a real browser (headless Chromium)
against a real ``ragd serve``. The model is an OpenAI-compatible server on loopback that always writes the same
answer (one sentence from the file, one invented): the real LLM seam, with an answer known in advance."""

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
SUPPORTED = "🍅 The tomatoes were planted on the ninth of April, beside the fence [1]."  # 2 UTF-16 units
INVENTED = "A team of robots waters them every morning at dawn."


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    with scripted_model(lambda _: f"{SUPPORTED} {INVENTED}") as url:  # the same answer to every question
        yield url


def test_an_unsupported_sentence_is_marked_on_the_page(tmp_path, model_url):
    with daemon_on_model(tmp_path, model_url, {"garden.md": GARDEN}) as daemon, sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = new_context(browser).new_page()
        problems = watch(page)
        page.goto(session_link(daemon))
        page.wait_for_url(re.compile(r"/#ask$"))
        ask(page, "When were the tomatoes planted?")
        answered(page)
        assert page.get_attribute("#answer", "data-grounded") == "true"
        marked = page.locator("#answer-text .claim.unsupported")
        assert marked.count() == 1
        assert (marked.text_content() or "").startswith(INVENTED)  # the span starts where the sentence does
        assert marked.get_attribute("title") == "not found in your files"
        assert "(not found in your files)" in (marked.locator(".claim-note").text_content() or "")
        text = page.text_content("#answer-text") or ""
        assert text.index("ninth of April") < text.index("robots")  # the supported sentence is shown plainly
        assert page.locator("#answer-text .claim").count() == 1
        assert page.locator("#answer-text button.cite").count() == 1  # [1] still opens its passage
        assert page.text_content("#answer-support") == "1 of 2 sentences is not found in your files."
        artifacts = Path(os.environ.get("RAGD_TEST_ARTIFACTS", tmp_path)) / "screenshots"
        artifacts.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "answer-unsupported-marked.png"), full_page=True)
        assert not problems, problems
        browser.close()
