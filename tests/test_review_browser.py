"""The review app in a real Chromium: list, article, highlights, keyboard rejection that persists.

Uses Debian's Chromium (`apt-get install chromium`) through Playwright; never `playwright install`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from builders import BTC_TEXT, HEADED_TITLE, HOSTILE_TITLE, build_headed_db

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed"),
]


@pytest.fixture()
def server(review_db, serve_app):
    """The review app served by uvicorn on a free 127.0.0.1 port, in a thread."""
    from pipeline.review import create_app

    path, ids = review_db
    port = serve_app(create_app(path, reviewer="browser-test"))
    yield f"http://127.0.0.1:{port}", path, ids


@pytest.fixture()
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        opened = context.new_page()
        errors: list[str] = []
        opened.on("pageerror", lambda error: errors.append(str(error)))
        opened.on("console", lambda message: message.type == "error"
                  and errors.append(message.text))
        yield opened
        browser.close()
        assert errors == [], errors  # no script errors, no CSP violations


def test_review_an_article_with_the_keyboard(server, page, tmp_path):
    base, path, ids = server
    page.goto(f"{base}/articles")
    rows = page.locator("tr.article-row")
    assert rows.count() == 4
    assert page.get_by_text(HOSTILE_TITLE).count() == 1  # shown as text, not run
    page.screenshot(path=str(tmp_path / "review-list.png"), full_page=True)

    page.get_by_role("link", name="Bitcoin slides to $60,000 as ETF outflows deepen").click()
    page.wait_for_url(f"{base}/articles/{ids['btc']}")
    catalysts = page.locator("#article-text mark.tag-catalyst:not(.cont)")
    assert catalysts.count() == 4
    bearish = page.locator("#article-text mark.tag-catalyst.dir-bearish")
    colour = bearish.first.evaluate("mark => getComputedStyle(mark).borderBottomColor")
    assert colour == "rgb(217, 48, 37)"  # the stylesheet loaded under the CSP

    # j selects the first tag in text order (the price catalyst), j again the entity inside it.
    page.keyboard.press("j")
    first_card = page.locator(".card.current")
    assert first_card.get_attribute("data-kind") == "catalyst"
    assert page.locator("#details .evidence").inner_text() == BTC_TEXT.split("\n\n")[0]
    page.keyboard.press("j")
    page.keyboard.press("k")
    key = page.locator(".card.current").get_attribute("data-key")
    assert key == first_card.get_attribute("data-key")
    page.keyboard.press("r")
    card = page.locator(f"#card-{key}")
    card.locator(".state-label").filter(has_text="rejected").wait_for()
    page.screenshot(path=str(tmp_path / "review-after-reject.png"), full_page=True)

    page.reload()
    assert "state-reject" in page.locator(f"#card-{key}").get_attribute("class")
    assert "state-reject" in page.locator(f"#mark-{key}").get_attribute("class")
    assert "browser-test" in page.locator(f"#card-{key} .state-note").inner_text()
    with sqlite3.connect(path) as db:
        stored = db.execute("SELECT target_kind, target_id, action, reviewer FROM corrections"
                            ).fetchall()
    assert stored == [("catalyst", int(key.split("-")[1]), "reject", "browser-test")]

    # Selecting a sentence fills the add-catalyst form with its offsets.
    sentence = "a weaker dollar could support a rebound"
    select_text(page, "#article-text", sentence, BTC_TEXT.index(sentence))

    page.keyboard.press("n")
    page.wait_for_url(f"{base}/articles/{ids['quiet']}")
    page.screenshot(path=str(tmp_path / "review-next.png"))


def test_the_headline_in_the_text_is_tagged_and_selectable(serve_app, page, tmp_path):
    from pipeline.review import create_app

    path = tmp_path / "headed.db"
    article_id = build_headed_db(path)
    port = serve_app(create_app(path, reviewer="browser-test"))
    page.goto(f"http://127.0.0.1:{port}/articles/{article_id}")
    page.locator("h1.title mark.tag-catalyst").hover()
    assert page.locator("#details .evidence").inner_text() == HEADED_TITLE
    words = "staking deposits"
    select_text(page, "h1.title", words, HEADED_TITLE.index(words))


def select_text(page, root: str, sentence: str, start: int) -> None:
    """Select `sentence` inside `root` as a reader would, and wait for the add-catalyst form to
    show its offsets, `start` onwards."""
    page.locator(root).evaluate(
        """(root, sentence) => {
            const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
            while (walker.nextNode()) {
                const at = walker.currentNode.data.indexOf(sentence);
                if (at >= 0) {
                    const range = document.createRange();
                    range.setStart(walker.currentNode, at);
                    range.setEnd(walker.currentNode, at + sentence.length);
                    document.getSelection().removeAllRanges();
                    document.getSelection().addRange(range);
                    return;
                }
            }
        }""",
        sentence,
    )
    page.wait_for_function(
        "expected => document.getElementById('add-end').value === String(expected)",
        arg=start + len(sentence),
    )
    assert page.locator("#add-start").input_value() == str(start)
    assert page.locator("#selection-preview").inner_text() == sentence
