"""The search page and the header's search box in a browser: a Korean article found by a
word inside a longer run of text, its match highlighted; a comment found with a link to
its article; an HTML payload in a snippet shown as text; the board filter, pagination, the
empty and error states; the pages at 360 px and with axe."""

from __future__ import annotations

import random
import re
from typing import TYPE_CHECKING
from urllib.parse import quote
from uuid import uuid4

import pytest

from tests.web.conftest import Api, Contexts, axe_violations, describe_violations, sign_in
from tests.web.test_article_page import new_board

if TYPE_CHECKING:
    from playwright.sync_api import Dialog, Page

pytestmark = pytest.mark.stack

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 720}  # Playwright's default viewport


def hangul_word() -> str:
    """A Korean word no other test's article holds: three random syllables and 서버
    (the browser tests share one database, so a search for 서버 alone finds theirs too)."""
    return "".join(chr(0xAC00 + random.randrange(11172)) for _ in range(3)) + "서버"


def search_from_header(page: Page, words: str) -> None:
    box = page.get_by_role("search").get_by_label("Search", exact=True)
    box.fill(words)
    box.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q="))
    page.get_by_test_id("search-summary").wait_for()


def test_a_korean_article_is_found_from_the_header_by_a_word_inside_a_longer_run(
    page: Page, api: Api
) -> None:
    author = api.register()
    word = hangul_word()
    title = f"{word}를 설치하는 법"
    article = api.create_article(author, title=title, body="먼저 패키지를 받습니다.")
    other = api.create_article(author, title=f"관계없는 글 {uuid4().hex[:6]}")

    page.goto(f"/article/{quote(other['slug'], safe='')}")
    search_from_header(page, word)

    assert page.locator("h1").inner_text() == f"Search results for “{word}”"
    assert page.get_by_test_id("search-query").input_value() == word
    results = page.get_by_test_id("search-article")
    assert results.count() == 1
    assert results.get_by_role("link", name=title).get_attribute("href") == (
        f"/article/{quote(article['slug'], safe='')}"
    )
    # The title matched (the body does not hold the word): its snippet marks the word only.
    mark = results.locator("mark")
    assert mark.all_inner_texts() == [word]
    assert mark.is_visible()
    assert results.get_by_test_id("snippet").inner_text() == title
    assert page.get_by_test_id("search-comments").inner_text().endswith("No comments match.")
    # The header's box keeps the words while their results are shown.
    assert page.get_by_test_id("header-search").input_value() == word

    results.get_by_role("link", name=title).click()
    page.wait_for_url(f"**/article/{quote(article['slug'], safe='')}")
    assert page.get_by_test_id("article-title").inner_text() == title
    assert page.get_by_test_id("header-search").input_value() == ""


def test_a_payload_in_a_snippet_is_shown_as_text(page: Page, api: Api) -> None:
    author = api.register()
    word = hangul_word()
    payload = "<img src=x onerror=alert(1)> & <script>alert(2)</script>"
    api.create_article(author, body=f"앞 {word}에서 {payload} 뒤")
    commenter = api.register()
    target = api.create_article(author, title=f"댓글 받는 글 {uuid4().hex[:6]}")
    api.comment(commenter, target["slug"], f'"{word}" <b onmouseover=alert(3)>bold</b>')
    dialogs: list[str] = []

    def opened(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", opened)

    page.goto(f"/search?q={quote(word)}")
    snippet = page.get_by_test_id("search-article").get_by_test_id("snippet")
    assert snippet.inner_text() == f"앞 {word}에서 {payload} 뒤"
    assert snippet.locator("mark").all_inner_texts() == [word]
    comment = page.get_by_test_id("search-comment")
    assert (
        comment.get_by_test_id("snippet").inner_text()
        == f'"{word}" <b onmouseover=alert(3)>bold</b>'
    )
    # Only the marks became elements: no image, script or bold element from the text.
    assert page.get_by_test_id("search-results").locator("img[src=x], script, b").count() == 0
    assert page.get_by_test_id("search-results").locator("mark").count() == 2
    assert dialogs == []

    # The comment names its article and links to it.
    comment.get_by_role("link", name=target["title"]).click()
    page.wait_for_url(f"**/article/{quote(target['slug'], safe='')}")
    assert page.get_by_test_id("comment").first.inner_text().count(word) == 1


def test_the_board_filter_pagination_and_the_empty_state(new_context: Contexts, api: Api) -> None:
    author = api.register()
    board = new_board(api, f"검색 {uuid4().hex[:6]}")
    word = hangul_word()
    on_board = api.create_article(author, title=f"{word}는 여기", board=board["slug"])
    for n in range(20):
        api.create_article(author, title=f"{word}도 {n}")
    page = new_context().new_page()

    page.goto(f"/search?q={quote(word)}")
    assert page.get_by_test_id("search-summary").inner_text() == "21 articles and 0 comments found."
    assert page.get_by_test_id("search-article").count() == 20
    pages = page.get_by_role("navigation", name="Pages")
    pages.get_by_role("link", name="Page 2").click()
    page.wait_for_url(re.compile(r"page=2"))
    page.get_by_test_id("search-summary").wait_for()
    assert page.get_by_test_id("search-article").count() == 1
    assert page.get_by_role("link", name="Page 2").get_attribute("aria-current") == "page"

    # The board filter: the select lists the boards, and only the board's article is left.
    page.get_by_test_id("search-board").select_option(board["slug"])
    page.get_by_role("button", name="Search", exact=True).last.click()
    page.wait_for_url(re.compile(rf"board={re.escape(quote(board['slug']))}"))
    page.get_by_test_id("search-summary").wait_for()
    assert page.get_by_test_id("search-article").all_inner_texts()[0].startswith(on_board["title"])
    assert page.get_by_test_id("search-article").count() == 1
    assert page.get_by_test_id("search-board").input_value() == board["slug"]

    page.get_by_test_id("search-query").fill(f"{word} -{word}")
    page.get_by_test_id("search-query").press("Enter")
    page.wait_for_url(re.compile(r"q=.*-"))
    assert (
        page.get_by_test_id("search-summary").inner_text() == f"Nothing found for “{word} -{word}”."
    )


def test_bad_input_is_shown_at_the_field(page: Page) -> None:
    page.goto("/search")
    assert page.locator("h1").inner_text() == "Search"
    assert "Type a few words" in page.get_by_test_id("search-results").inner_text()
    # The header's box ignores an empty Enter (and keeps the focus).
    page.get_by_test_id("header-search").press("Enter")
    assert page.url.endswith("/search")
    assert page.evaluate("() => document.activeElement.dataset.testid") == "header-search"
    page.get_by_role("button", name="Search", exact=True).last.click()
    assert page.locator("[data-error-for=q]").inner_text() == "q can't be blank"
    assert page.url.endswith("/search")

    # Past the API's 200 characters (the input itself stops typing at 200): its 422.
    page.goto(f"/search?q={'가' * 201}")
    error = page.locator("[data-error-for=q]")
    assert "200" in error.inner_text()
    assert page.get_by_test_id("search-query").get_attribute("aria-invalid") == "true"


def test_the_search_pages_fit_a_phone_and_have_no_serious_axe_violations(
    new_context: Contexts, api: Api
) -> None:
    author = api.register()
    word = hangul_word()
    article = api.create_article(author, title=f"{word}를 찾는 글", body=f"본문에도 {word}가 있다")
    api.comment(author, article["slug"], f"댓글의 {word}")
    for viewport, signed in ((None, False), (PHONE, True)):
        context = new_context(viewport=viewport) if viewport else new_context()
        if signed:
            sign_in(context, author)
        page = context.new_page()
        page.goto("/")
        page.get_by_test_id("article-list").wait_for()
        # The box is in the header, visible without opening the phone menu.
        assert page.get_by_test_id("header-search").is_visible()
        search_from_header(page, word)
        assert page.get_by_test_id("search-comment").count() == 1
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= (viewport or DESKTOP)["width"], f"the page scrolls sideways: {width}px"
        assert (violations := axe_violations(page)) == [], describe_violations(violations)
        page.goto("/search")
        assert (violations := axe_violations(page)) == [], describe_violations(violations)
