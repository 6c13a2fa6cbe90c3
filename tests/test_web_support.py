"""The page marks the sentences of an answer that the files do not support, in a real browser (headless Chromium)
against a real ``ragd serve``. The model is an OpenAI-compatible server on loopback that always writes the same
answer (one sentence from the file, one invented): the real LLM seam, with an answer known in advance."""

from __future__ import annotations

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

SUPPORTED = "🍅 The tomatoes were planted on the ninth of April, beside the fence [1]."  # 2 UTF-16 units
INVENTED = "A team of robots waters them every morning at dawn."


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    with scripted_model(lambda _: f"{SUPPORTED} {INVENTED}") as url:  # the same answer to every question
        yield url


def test_an_unsupported_sentence_is_marked_on_the_page(tmp_path, model_url):
    with daemon_on_model(tmp_path, model_url, {"garden.md": GARDEN_LOG}) as daemon, \
            signed_in_page(daemon) as (page, problems):
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
        assert page.is_hidden("#answer-notice")  # a configured model: no demo notice
        page.screenshot(path=str(screenshots(tmp_path) / "answer-unsupported-marked.png"), full_page=True)
        assert not problems, problems
