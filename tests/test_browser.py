"""The chat page in a real browser (Debian's Chromium driven by Playwright) against `assistant serve`.

Screenshots are saved in artifacts/screenshots/.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from .conftest import CORPUS, ROOT

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "artifacts" / "screenshots"
AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"  # test-only, MPL-2.0
HOSTILE = (
    "Security notice about hostile markup\n\n"
    "This security notice quotes hostile markup on purpose: <img src=x onerror=alert(1)> and "
    "<script>alert('xss')</script> and a [link](javascript:alert(3)) must be shown as plain text. "
    "The security team reviews every notice about hostile markup each quarter.\n\n"
    "Invisible\u200b\u200c\u200dcharacters and a right-to-left \u202emark stay plain text.\n\n"
    + "overlong " * 600  # one line of 5,400 characters
    + "\n"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serving(base: Path, model_cache: Path, **settings: str) -> Iterator[str]:
    """`assistant serve` on a copy of the bundled corpus plus the hostile notice; its URL."""
    shutil.copytree(CORPUS, base / "corpus")
    (base / "corpus" / "security-notice.txt").write_text(HOSTILE, encoding="utf-8")
    port = _free_port()
    env = {**os.environ, "ASSISTANT_MODEL_CACHE": str(model_cache), **settings}
    cmd = [sys.executable, "-m", "assistant", "serve", "--corpus", str(base / "corpus"), "--index", str(base / "index")]
    log = (base / "server.log").open("w")
    proc = subprocess.Popen([*cmd, "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"assistant serve exited: {(base / 'server.log').read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/api/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                pytest.fail("assistant serve did not answer within 180 s")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[str]:
    with _serving(tmp_path_factory.mktemp("served"), model_cache) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI: scripts/install-chromium.sh should have installed it")
        pytest.skip("Debian's chromium is not installed (run scripts/install-chromium.sh)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser, server: str):  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.dialogs = []  # type: ignore[attr-defined]
    pg.foreign_requests = []  # type: ignore[attr-defined]
    pg.errors = []  # type: ignore[attr-defined]
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.on("request", lambda r: None if r.url.startswith(server) else pg.foreign_requests.append(r.url))
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type == "error" else None)
    pg.goto(server + "/")
    yield pg
    context.close()


def _ask(page, question: str, count: int) -> object:  # type: ignore[no-untyped-def]
    box = page.locator("textarea#question")
    box.fill(question)
    box.press("Enter")
    answer = page.locator(".message.assistant").nth(count - 1)
    answer.wait_for(timeout=30_000)
    return answer


def test_questions_in_both_directions_and_the_source_viewer(page) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    first = _ask(page, "Combien de pays l'équipe du MEDEF a-t-elle visités ?", 1)
    card = first.locator(".citation-card").first
    assert "21 countries" in card.locator(".citation-text").inner_text()
    assert card.locator(".lang-badge").inner_text().strip().upper() == "EN"
    assert "21 countries" in first.locator(".answer-text").inner_text()
    assert "0." in card.locator(".citation-why").inner_text()  # why it matched: similarity (and shared words)
    # one marker, the passage the answer sentence is quoted from; the others are related passages
    marker = first.locator("button.cite-marker")
    assert marker.count() == 1
    number = marker.inner_text().strip("[] ")
    source = first.locator(".citation-list").first.locator(".citation-card")
    assert source.count() == 1 and source.locator(".citation-number").inner_text() == f"[{number}]"
    assert "21 countries" in source.locator("mark.answer-highlight").inner_text()
    related = first.locator(".citations-heading.related")
    assert related.count() == 0 or "Related passages" in related.inner_text()
    page.screenshot(path=str(SHOTS / "answer-fr-question.png"), full_page=True)

    card.click()
    viewer = page.locator("dialog#source-viewer")
    viewer.wait_for(state="visible")
    cited = viewer.locator("#source-text mark.cited-passage")
    assert "21 countries" in cited.inner_text()
    assert cited.is_visible()
    assert "Digital Disruption Lab" in viewer.locator("#source-title").inner_text()
    page.screenshot(path=str(SHOTS / "source-viewer.png"))
    page.locator("button#source-close").click()
    viewer.wait_for(state="hidden")

    with page.expect_request(lambda r: r.url.endswith("/api/answer")) as sent:
        second = _ask(page, "How many companies are in the French Tech Corporate Community?", 2)
    history = sent.value.post_data_json["history"]  # follow-ups carry the conversation
    assert history[0]["question"].startswith("Combien de pays") and "21 countries" in history[0]["answer"]
    card = second.locator(".citation-card").first
    assert "90 entreprises" in card.locator(".citation-text").inner_text()
    assert card.locator(".lang-badge").inner_text().strip().upper() == "FR"
    second.locator("button.cite-marker").first.click()
    page.locator("dialog#source-viewer #source-text mark.cited-passage").wait_for(state="visible")
    assert "90 entreprises" in page.locator("#source-text mark.cited-passage").inner_text()
    page.screenshot(path=str(SHOTS / "answer-en-question-viewer.png"))
    page.keyboard.press("Escape")
    assert page.dialogs == [] and page.foreign_requests == [] and page.errors == []


def test_hostile_document_is_shown_as_text_and_runs_nothing(page) -> None:  # type: ignore[no-untyped-def]
    answer = _ask(page, "What does the security notice about hostile markup say?", 1)
    answer.locator("details.closest").evaluate_all("els => els.forEach(e => { e.open = true; })")
    card = answer.locator(".citation-card").first
    text = card.locator(".citation-text").inner_text()
    assert "<img src=x onerror=alert(1)>" in text and "<script>alert('xss')</script>" in text
    card.click()
    page.locator("dialog#source-viewer").wait_for(state="visible")
    page.locator("#source-text mark.cited-passage").wait_for(timeout=30_000)  # the document has loaded
    shown = page.locator("#source-text").inner_text()
    assert "<script>" in shown and "Invisible\u200b\u200c\u200dcharacters" in shown and "overlong " * 600 in shown
    width = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert width <= 1, "a long line must wrap, not widen the page"
    assert page.locator("#conversation img, #source-text img, #source-text script, #conversation script").count() == 0
    page.wait_for_timeout(500)
    page.screenshot(path=str(SHOTS / "hostile-document.png"))
    assert page.dialogs == [] and page.foreign_requests == []


def test_abstention_reload_clear_and_language(page) -> None:  # type: ignore[no-untyped-def]
    answer = _ask(page, "Quelle est la recette de la tarte tatin ?", 1)
    assert "abstained" in (answer.get_attribute("class") or "")
    assert "documents ne permettent pas" in answer.inner_text()
    closest = answer.locator("details.closest")
    assert closest.count() == 1 and closest.get_attribute("open") is None
    assert closest.locator(".citation-card").count() >= 1

    page.reload()
    page.locator(".message.assistant").first.wait_for()
    assert page.locator(".message.user").first.inner_text().strip().startswith("Quelle est la recette")

    switch = page.locator("#lang-switch")
    before = page.locator("html").get_attribute("lang")
    if switch.evaluate("e => e.tagName") == "SELECT":
        switch.select_option("fr" if before != "fr" else "en")
    else:
        switch.click()
    after = page.locator("html").get_attribute("lang")
    assert after != before
    page.reload()
    assert page.locator("html").get_attribute("lang") == after

    page.locator("button#clear").click()
    assert page.locator(".message").count() == 0
    page.reload()
    assert page.locator(".message").count() == 0


def test_keyboard_only_and_phone_width(browser, server: str) -> None:  # type: ignore[no-untyped-def]
    context = browser.new_context(locale="fr-FR", viewport={"width": 375, "height": 740}, is_mobile=True)
    page = context.new_page()
    page.goto(server + "/")
    assert page.locator("html").get_attribute("lang") == "fr"
    page.locator("textarea#question").focus()
    page.keyboard.type("Qui coordonne la French Tech Corporate Community ?")
    page.keyboard.press("Shift+Enter")
    assert page.locator(".message.user").count() == 0  # Shift+Enter is a new line, not a send
    page.keyboard.press("Enter")
    page.locator(".message.assistant .citation-card").first.wait_for(timeout=30_000)
    assert "Maupeou" in page.locator(".message.assistant").first.inner_text()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"horizontal scrolling on a phone: {width}px"
    page.screenshot(path=str(SHOTS / "phone.png"), full_page=True)

    page.locator(".citation-card button.citation-open").first.focus()
    page.keyboard.press("Enter")
    page.locator("dialog#source-viewer").wait_for(state="visible")
    page.keyboard.press("Escape")
    page.locator("dialog#source-viewer").wait_for(state="hidden")
    context.close()


API_KEY = "browser-test-key-0123456789"


def test_with_api_keys_the_page_asks_for_one(browser, tmp_path_factory, model_cache: Path) -> None:  # type: ignore[no-untyped-def]
    keyed = tmp_path_factory.mktemp("keyed")
    with _serving(keyed, model_cache, ASSISTANT_API_KEYS=API_KEY, ASSISTANT_MAX_QUESTION_CHARS="2500") as url:
        context = browser.new_context(locale="fr-FR")
        page = context.new_page()
        page.goto(url + "/")
        box = page.locator("textarea#question")
        # the question box takes the server's limit (ASSISTANT_MAX_QUESTION_CHARS), not a built-in one
        # (awaited with a locator assertion: a wait_for_function string that is not true at once
        # is polled with eval in the page, which the page's CSP refuses)
        from playwright.sync_api import expect

        expect(box).to_have_attribute("maxlength", "2500", timeout=30_000)
        box.fill("Combien de pays l'équipe du MEDEF a-t-elle visités ?")
        box.press("Enter")
        error = page.locator(".message.error").first
        error.wait_for(timeout=30_000)
        assert "clé" in error.inner_text()
        error.locator("input.api-key-input").fill(API_KEY)
        with page.expect_request(lambda r: r.url.endswith("/api/answer")) as sent:
            error.locator("form.api-key button").click()
        assert sent.value.headers.get("x-api-key") == API_KEY
        answer = page.locator(".message.assistant").first
        answer.wait_for(timeout=30_000)
        assert "21 countries" in answer.inner_text()
        context.close()


def _serious_violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    """axe-core's serious and critical violations on the page as it is now."""
    page.evaluate(AXE.read_text(encoding="utf-8") + "\n;0")  # through DevTools: the page's CSP allows no inline script
    found = page.evaluate("axe.run(document, {resultTypes: ['violations']}).then(r => r.violations)")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


def test_no_serious_accessibility_violations(page) -> None:  # type: ignore[no-untyped-def]
    # no colour transitions (the page honours reduced motion) and no hover: axe measures the
    # colours at rest, not halfway through a fade
    page.emulate_media(reduced_motion="reduce")
    assert _serious_violations(page) == []  # the empty page
    _ask(page, "Combien de pays l'équipe du MEDEF a-t-elle visités ?", 1)
    abstained = _ask(page, "Quelle est la recette de la tarte tatin ?", 2)
    abstained.locator("details.closest").evaluate_all("els => els.forEach(e => { e.open = true; })")
    assert _serious_violations(page) == []  # an answer with its cards, and an abstention with its passages
    # a screen reader gets the passage, its highlighted answer, the why line and the score
    card = page.locator(".message.assistant").first.locator(".citation-card").first
    assert card.get_attribute("role") is None and card.get_attribute("aria-label") is None
    spoken = card.evaluate("c => c.innerText")
    assert "21 countries" in spoken and "Relevance" in spoken and "similarity" in spoken
    page.locator(".citation-card button.citation-open").first.click()
    page.locator("dialog#source-viewer").wait_for(state="visible")
    assert _serious_violations(page) == []  # the source viewer
    page.keyboard.press("Escape")
    page.locator("dialog#source-viewer").wait_for(state="hidden")
    page.mouse.move(0, 0)
    page.emulate_media(color_scheme="dark", reduced_motion="reduce")
    assert _serious_violations(page) == []  # the dark theme's contrasts
