"""Edit history, comment votes, comment edits and ordering in a browser: an article edited
in the editor shows its versions with the diff and a CSV download; a comment voted up, then
down, then taken back; a comment edited inline (Escape cancels), marked edited, its history
one link away and the edit arriving live at another reader; comments ordered by score;
the history page at 360 px and with axe."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import quote
from uuid import uuid4

import pytest

from tests.web.conftest import Api, Contexts, axe_violations, describe_violations, sign_in
from tests.web.test_article_page import listening, watching

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.stack

PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 720}  # Playwright's default viewport


def enc(slug: str) -> str:
    return quote(slug, safe="")


def test_an_article_edited_in_the_editor_shows_its_history_with_the_diff(
    new_context: Contexts, api: Api
) -> None:
    author = api.register(f"작가{uuid4().hex[:6]}")
    title = f"김치찌개 {uuid4().hex[:6]}"
    article = api.create_article(author, title=title, body="돼지고기를 볶는다.\n김치를 넣는다.")
    context = new_context()
    sign_in(context, author)
    page = context.new_page()

    page.goto(f"/article/{enc(article['slug'])}")
    page.get_by_test_id("edit-article").click()
    page.wait_for_url(re.compile(r"/editor/"))
    body = page.get_by_test_id("editor-body")
    body.wait_for()
    page.wait_for_function("() => document.querySelector('[data-testid=editor-body]').value !== ''")
    body.fill("돼지고기를 볶는다.\n묵은지를 넣는다.\n두부를 넣는다.")
    page.get_by_label("What is it about?").fill("새 설명")
    page.get_by_test_id("editor-submit").click()
    page.wait_for_url(re.compile(r"/article/"))
    page.get_by_test_id("article-body").get_by_text("두부를 넣는다.").wait_for()

    page.get_by_test_id("history-link").click()
    page.wait_for_url(f"**/article/{enc(article['slug'])}/history")
    page.locator("main h1", has_text="History of").wait_for()
    assert page.locator("main h1").inner_text() == f"History of “{title}”"
    assert page.get_by_test_id("history-count").inner_text() == "2 versions, newest first."
    versions = page.get_by_test_id("version")
    assert versions.count() == 2
    newest = versions.first
    assert f"Version 2 by {author.username} · " in newest.locator("header").inner_text()
    diff = newest.get_by_test_id("diff")
    assert diff.locator(".diff-removed").all_inner_texts() == ["-김치를 넣는다."]
    assert diff.locator(".diff-added").all_inner_texts() == ["+묵은지를 넣는다.", "+두부를 넣는다."]
    assert diff.locator(".diff-context").all_inner_texts()[0] == " 돼지고기를 볶는다."
    # Only the description changed besides the body, and only it is listed.
    assert newest.get_by_test_id("version-description").inner_text() == "새 설명"
    assert newest.get_by_test_id("version-title").count() == 0
    oldest = versions.nth(1)
    assert oldest.get_by_test_id("version-title").inner_text() == title
    assert oldest.get_by_test_id("diff").locator(".diff-added").count() == 2
    # Text, never HTML: the diff holds spans of text only.
    assert page.get_by_test_id("versions").locator("pre *:not(span)").count() == 0

    download = page.get_by_test_id("history-csv")
    href = download.get_attribute("href")
    assert href == f"/api/articles/{enc(article['slug'])}/history.csv"
    assert download.get_attribute("download") is not None
    csv = api.call("GET", href)
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert "묵은지를 넣는다." in csv.text
    with page.expect_download() as started:
        download.click()
    assert started.value.suggested_filename.endswith(".csv")

    page.get_by_test_id("history-back").click()
    page.wait_for_url(f"**/article/{enc(article['slug'])}")


def comment_by_id(page: Page, comment_id: int) -> Locator:
    return page.locator(f"[data-testid=comment][data-comment-id='{comment_id}']")


def wait_for_score(page: Page, comment_id: int, score: str) -> None:
    page.wait_for_function(
        """([id, score]) => document.querySelector(
             `[data-comment-id='${id}'] [data-testid=comment-score]`).textContent === score""",
        arg=[comment_id, score],
    )


def wait_for_first_comment(page: Page, text: str) -> None:
    page.wait_for_function(
        "(text) => document.querySelector('[data-testid=comment-text]')"
        "?.textContent.trim() === text",
        arg=text,
    )


def test_a_comment_is_voted_up_then_down_then_taken_back(new_context: Contexts, api: Api) -> None:
    author = api.register()
    article = api.create_article(author)
    comment = api.comment(author, article["slug"], "투표해 주세요")
    others = [api.register() for _ in range(2)]
    for other in others:
        response = api.call(
            "PUT",
            f"/api/articles/{article['slug']}/comments/{comment['id']}/vote",
            user=other,
            json={"vote": {"value": 1}},
        )
        assert response.status_code == 200, response.text

    # Signed out: the score shows, a vote asks to sign in first.
    anonymous = new_context().new_page()
    anonymous.goto(f"/article/{enc(article['slug'])}")
    item = comment_by_id(anonymous, comment["id"])
    assert item.get_by_test_id("comment-score").inner_text() == "2"
    item.get_by_role("button", name="Vote up").click()
    anonymous.wait_for_url(re.compile(r"/login\?next="))

    voter = api.register()
    context = new_context()
    sign_in(context, voter)
    page = context.new_page()
    page.goto(f"/article/{enc(article['slug'])}")
    item = comment_by_id(page, comment["id"])
    up, down = (
        item.get_by_role("button", name="Vote up"),
        item.get_by_role("button", name="Vote down"),
    )
    score = item.get_by_test_id("comment-score")
    assert score.inner_text() == "2"
    assert up.get_attribute("aria-pressed") == "false"

    up.click()
    wait_for_score(page, comment["id"], "3")
    assert up.get_attribute("aria-pressed") == "true"
    assert down.get_attribute("aria-pressed") == "false"

    down.click()  # the vote flips: +1 becomes -1
    wait_for_score(page, comment["id"], "1")
    assert up.get_attribute("aria-pressed") == "false"
    assert down.get_attribute("aria-pressed") == "true"

    # What the server kept, seen again after a reload.
    page.reload()
    item = comment_by_id(page, comment["id"])
    assert item.get_by_test_id("comment-score").inner_text() == "1"
    down = item.get_by_role("button", name="Vote down")
    assert down.get_attribute("aria-pressed") == "true"
    down.click()  # the same button again takes the vote back
    wait_for_score(page, comment["id"], "2")
    assert down.get_attribute("aria-pressed") == "false"
    mine = api.call("GET", f"/api/articles/{article['slug']}/comments", user=voter).json()
    assert mine["comments"][0]["myVote"] is None


def test_comments_are_ordered_newest_or_top_first(new_context: Contexts, api: Api) -> None:
    author = api.register()
    article = api.create_article(author)
    bodies = ["첫째 댓글", "둘째 댓글", "셋째 댓글"]
    comments = [api.comment(author, article["slug"], body) for body in bodies]
    voters = [api.register() for _ in range(2)]
    # The oldest gets two up-votes, the newest one down-vote.
    for voter in voters:
        api.call(
            "PUT",
            f"/api/articles/{article['slug']}/comments/{comments[0]['id']}/vote",
            user=voter,
            json={"vote": {"value": 1}},
        )
    api.call(
        "PUT",
        f"/api/articles/{article['slug']}/comments/{comments[2]['id']}/vote",
        user=voters[0],
        json={"vote": {"value": -1}},
    )
    page = new_context().new_page()
    page.goto(f"/article/{enc(article['slug'])}")
    texts = page.get_by_test_id("comment-text")
    texts.first.wait_for()
    assert texts.all_inner_texts() == ["셋째 댓글", "둘째 댓글", "첫째 댓글"]
    assert page.get_by_test_id("order-new").get_attribute("aria-pressed") == "true"

    with page.expect_request(re.compile(r"/comments\?order=top")):
        page.get_by_test_id("order-top").click()
    wait_for_first_comment(page, "첫째 댓글")
    assert texts.all_inner_texts() == ["첫째 댓글", "둘째 댓글", "셋째 댓글"]
    assert page.get_by_test_id("order-top").get_attribute("aria-pressed") == "true"
    assert page.get_by_test_id("order-new").get_attribute("aria-pressed") == "false"
    scores = page.get_by_test_id("comment-score").all_inner_texts()
    assert scores == ["2", "0", "-1"]

    page.get_by_test_id("order-new").click()
    wait_for_first_comment(page, "셋째 댓글")


def test_a_comment_is_edited_inline_and_the_edit_arrives_live(
    new_context: Contexts, api: Api
) -> None:
    author = api.register()
    commenter = api.register(f"댓글러{uuid4().hex[:5]}")
    article = api.create_article(author)
    comment = api.comment(commenter, article["slug"], "오타가 있는 댓글")
    url = f"/article/{enc(article['slug'])}"

    reader = watching(new_context()).new_page()
    reader.goto(url)
    listening(reader, f"article:{article['slug']}")

    context = new_context()
    sign_in(context, commenter)
    page = context.new_page()
    page.goto(url)
    item = comment_by_id(page, comment["id"])
    assert item.get_by_test_id("comment-edited").count() == 0
    # Only the author sees Edit.
    assert comment_by_id(reader, comment["id"]).get_by_test_id("edit-comment").count() == 0

    # Escape cancels and gives focus back to Edit.
    item.get_by_test_id("edit-comment").click()
    textarea = item.get_by_label("Edit your comment")
    assert textarea.input_value() == "오타가 있는 댓글"
    textarea.fill("버려질 글")
    textarea.press("Escape")
    assert item.get_by_test_id("comment-text").inner_text() == "오타가 있는 댓글"
    assert page.evaluate("() => document.activeElement.dataset.testid") == "edit-comment"

    # Blank is refused at the field.
    item.get_by_test_id("edit-comment").click()
    textarea.fill("  ")
    item.get_by_test_id("comment-save").click()
    assert item.locator("[data-error-for=body]").inner_text() == "can't be blank"

    textarea.fill("고친 **댓글**")
    item.get_by_test_id("comment-save").click()
    item.get_by_test_id("comment-text").locator("strong").wait_for()
    assert item.get_by_test_id("comment-text").inner_text() == "고친 댓글"
    assert item.get_by_test_id("comment-edited").is_visible()

    # The other reader's page shows the edit without a reload.
    other = comment_by_id(reader, comment["id"])
    other.get_by_test_id("comment-text").locator("strong").wait_for()
    assert other.get_by_test_id("comment-text").inner_text() == "고친 댓글"
    assert other.get_by_test_id("comment-edited").is_visible()

    # "edited" leads to the comment's history.
    item.get_by_test_id("comment-edited").click()
    page.wait_for_url(f"**/article/{enc(article['slug'])}/comments/{comment['id']}/history")
    # The address changes before the page is drawn: wait for the new heading.
    title = f"History of a comment on “{article['title']}”"
    page.locator("main h1", has_text="History of a comment").wait_for()
    assert page.locator("main h1").inner_text() == title
    versions = page.get_by_test_id("version")
    assert versions.count() == 2
    diff = versions.first.get_by_test_id("diff")
    assert diff.locator(".diff-removed").all_inner_texts() == ["-오타가 있는 댓글"]
    assert diff.locator(".diff-added").all_inner_texts() == ["+고친 **댓글**"]
    assert page.get_by_test_id("history-csv").get_attribute("href") == (
        f"/api/articles/{enc(article['slug'])}/comments/{comment['id']}/history.csv"
    )


def test_the_history_pages_fit_a_phone_and_have_no_serious_axe_violations(
    new_context: Contexts, api: Api
) -> None:
    author = api.register()
    article = api.create_article(author, body="한 줄\n" + "아주 긴 줄 " * 40)
    for n in range(2):
        response = api.call(
            "PUT",
            f"/api/articles/{article['slug']}",
            user=author,
            json={"article": {"body": f"한 줄 {n}\n" + "아주 긴 줄 " * 41, "tagList": [f"t{n}"]}},
        )
        assert response.status_code == 200, response.text
    comment = api.comment(author, article["slug"], "댓글")
    for viewport in (None, PHONE):
        context = new_context(viewport=viewport) if viewport else new_context()
        sign_in(context, author)
        page = context.new_page()
        page.goto(f"/article/{enc(article['slug'])}/history")
        page.get_by_test_id("versions").wait_for()
        assert page.get_by_test_id("version").count() == 3
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= (viewport or DESKTOP)["width"], f"the page scrolls sideways: {width}px"
        assert (violations := axe_violations(page)) == [], describe_violations(violations)
        # The article page with its votes, order and edit controls.
        page.goto(f"/article/{enc(article['slug'])}")
        comment_by_id(page, comment["id"]).get_by_test_id("edit-comment").click()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= (viewport or DESKTOP)["width"], f"the page scrolls sideways: {width}px"
        assert (violations := axe_violations(page)) == [], describe_violations(violations)


def test_a_missing_history_says_so(page: Page) -> None:
    page.goto(f"/article/no-such-{uuid4().hex[:8]}/history")
    assert page.locator("h1").inner_text() == "History not found"
