"""The board, article and editor pages in a browser: a Korean article with Markdown and tags
written on a board, seen there, commented, favorited and edited; a second reader seeing
comments, favorites, locks and a deletion arrive live; a moderator locking and deleting;
the "N new posts" bar; API errors next to the editor's fields; the pages at 360 px."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from uuid import uuid4

import pytest

from tests.web.conftest import Api, Contexts, User, axe_violations, describe_violations

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

pytestmark = pytest.mark.stack


def enc(slug: str) -> str:
    return quote(slug, safe="")


def signed_in(new_context: Contexts, user: User, **options: Any) -> BrowserContext:
    """A browser context where ``user`` is signed in, as after the sign-in page (the app
    keeps the token in localStorage and fetches the user at start)."""
    context = new_context(**options)
    token = json.dumps(user.token)
    # Not on about:blank, the page every context starts with, which has no storage.
    script = f"localStorage.setItem('fastboard.token', {token});"
    context.add_init_script(f"if (location.protocol.startsWith('http')) {script}")
    return context


def listening(page: Page, topic: str) -> None:
    """Wait until the page's live connection has subscribed to ``topic``: events of writes
    made before that are not sent to it (nothing to replay without a ``since``)."""
    page.wait_for_function("() => document.getElementById('live-status')?.dataset.state === 'open'")
    frames: list[str] = page.evaluate("() => window.__liveFrames || []")
    if not any(topic in frame for frame in frames):
        page.wait_for_function(
            "(topic) => (window.__liveFrames || []).some((f) => f.includes(topic))", arg=topic
        )


# Records the server's "subscribed" answers, so a test knows when a topic is live.
LIVE_RECORDER = """
(() => {
  const Native = window.WebSocket;
  window.__liveFrames = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (typeof event.data === "string" && event.data.includes('"subscribed"')) {
          window.__liveFrames.push(event.data);
        }
      });
    }
  };
})();
"""


def watching(context: BrowserContext) -> BrowserContext:
    context.add_init_script(LIVE_RECORDER)
    return context


def new_board(api: Api, name: str) -> dict[str, Any]:
    admin = api.register()
    api.set_role(admin, "admin")
    category = api.call(
        "POST",
        "/api/categories",
        user=admin,
        json={"category": {"name": f"취미 {uuid4().hex[:6]}"}},
    )
    assert category.status_code == 201, category.text
    body = {"board": {"name": name, "category": category.json()["category"]["slug"]}}
    response = api.call("POST", "/api/boards", user=admin, json=body)
    assert response.status_code == 201, response.text
    board: dict[str, Any] = response.json()["board"]
    return board


def test_a_korean_article_is_written_on_a_board_commented_favorited_and_edited(
    new_context: Contexts, api: Api
) -> None:
    author = api.register(f"작가{uuid4().hex[:6]}")
    board = new_board(api, f"요리 {uuid4().hex[:6]}")
    page = signed_in(new_context, author).new_page()

    page.goto(f"/board/{enc(board['slug'])}")
    assert page.locator("h1").inner_text() == board["name"]
    page.get_by_test_id("new-post").click()
    page.wait_for_url(re.compile(r"/editor\?board="))
    assert page.get_by_test_id("editor-board").input_value() == board["slug"]

    title = f"김치 만드는 법 {uuid4().hex[:4]}"
    page.get_by_test_id("editor-title").fill(title)
    page.get_by_label("What is it about?").fill("할머니의 레시피")
    page.get_by_test_id("editor-body").fill("## 재료\n\n- **배추** 한 포기\n- 고춧가루\n")
    tags = page.get_by_test_id("editor-tags")
    tags.fill("김치")
    tags.press("Enter")  # a chip, not a submit
    tags.press_sequentially("한식,요리,")
    tags.press("Backspace")  # the empty input's Backspace removes the last chip
    assert page.locator("[data-testid=tag-chip] span").all_inner_texts() == ["김치", "한식"]
    page.get_by_role("tab", name="Preview").click()
    preview = page.get_by_test_id("preview")
    assert preview.locator("strong").inner_text() == "배추"
    # The page's own h1 stays the only one: Markdown headings move one level down.
    assert preview.locator("h3").inner_text() == "재료"
    page.get_by_test_id("editor-submit").click()

    page.get_by_test_id("article-title").wait_for()
    assert page.get_by_test_id("article-title").inner_text() == title
    slug = page.url.rsplit("/article/", 1)[1]
    stored = api.call("GET", f"/api/articles/{slug}").json()["article"]  # slug: as in the URL
    assert stored["title"] == title
    assert stored["tagList"] == ["김치", "한식"]
    assert stored["board"] == board["slug"]
    assert stored["locked"] is False
    assert page.locator("h1").count() == 1
    assert page.get_by_test_id("article-body").locator("strong").inner_text() == "배추"
    assert page.get_by_test_id("article-board").inner_text() == board["slug"]
    assert page.get_by_test_id("follow").count() == 0  # nobody follows themselves

    # Commented: the POST's answer and the live event of the same comment show it once.
    page.get_by_test_id("comment-body").fill("직접 **해봤어요**")
    page.get_by_role("button", name="Post comment").click()
    comment = page.get_by_test_id("comment")
    comment.locator("strong").wait_for()
    page.wait_for_timeout(500)  # time for the live copy to arrive, and be dropped
    assert comment.count() == 1
    assert comment.locator(".comment-body").inner_text() == "직접 해봤어요"

    # Favorited.
    favorite = page.get_by_test_id("favorite")
    favorite.click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=favorite]').getAttribute('aria-pressed')"
        " === 'true'"
    )
    assert page.get_by_test_id("favorites-count").inner_text() == "1"

    # On its board.
    page.goto(f"/board/{enc(board['slug'])}")
    previews = page.get_by_test_id("article-preview")
    previews.first.wait_for()
    assert previews.count() == 1
    assert previews.first.locator(".preview-title").inner_text() == title

    # Edited: a new Korean title gives a new slug, and the page follows it.
    page.goto(f"/article/{slug}")
    page.get_by_test_id("edit-article").click()
    page.wait_for_url(f"**/editor/{slug}")
    assert page.get_by_test_id("editor-title").input_value() == title
    edited = f"김치 담그는 법 {uuid4().hex[:4]}"
    page.get_by_test_id("editor-title").fill(edited)
    page.get_by_test_id("editor-submit").click()
    page.wait_for_function(
        "(t) => document.querySelector('[data-testid=article-title]')?.textContent === t",
        arg=edited,
    )
    new_slug = page.url.rsplit("/article/", 1)[1]
    assert new_slug != slug
    again = api.call("GET", f"/api/articles/{new_slug}").json()["article"]
    assert again["title"] == edited
    assert again["tagList"] == ["김치", "한식"]
    assert again["favoritesCount"] == 1


def test_a_second_reader_sees_comments_favorites_locks_and_the_deletion_arrive(
    new_context: Contexts, api: Api
) -> None:
    author, reader, moderator = api.register(), api.register(), api.register()
    api.set_role(moderator, "moderator")
    article = api.create_article(author, title=f"실시간 {uuid4().hex[:6]}")
    slug = article["slug"]
    page = watching(signed_in(new_context, reader)).new_page()
    page.goto(f"/article/{enc(slug)}")
    page.get_by_test_id("comment-form").wait_for()
    listening(page, f"article:{slug}")

    posted = api.comment(author, slug, "방금 **쓴** 댓글")
    arrived = page.locator(f"[data-testid=comment][data-comment-id='{posted['id']}']")
    arrived.locator("strong").wait_for()
    assert arrived.locator(".comment-body").inner_text() == "방금 쓴 댓글"

    liked = api.call("POST", f"/api/articles/{enc(slug)}/favorite", user=author)
    assert liked.status_code == 200
    page.wait_for_function(
        "() => document.querySelector('[data-testid=favorites-count]').textContent === '1'"
    )

    locked = api.call("POST", f"/api/articles/{enc(slug)}/lock", user=moderator, json={})
    assert locked.status_code == 200, locked.text
    page.get_by_test_id("locked").wait_for()
    assert page.get_by_test_id("comment-form").count() == 0
    unlocked = api.call("DELETE", f"/api/articles/{enc(slug)}/lock", user=moderator)
    assert unlocked.status_code == 200
    page.get_by_test_id("comment-form").wait_for()
    assert not page.get_by_test_id("locked").is_visible()

    removed = api.call("DELETE", f"/api/articles/{enc(slug)}/comments/{posted['id']}", user=author)
    assert removed.status_code in (200, 204)
    arrived.wait_for(state="detached")

    edited = api.call(
        "PUT",
        f"/api/articles/{enc(slug)}",
        user=author,
        json={"article": {"body": "고친 *본문*"}},
    )
    assert edited.status_code == 200
    page.get_by_test_id("article-body").locator("em").wait_for()

    # Retitled: the page follows the new slug, and hears the events published under it.
    retitled = api.call(
        "PUT", f"/api/articles/{enc(slug)}", user=author, json={"article": {"title": "새 제목"}}
    )
    assert retitled.status_code == 200
    slug = retitled.json()["article"]["slug"]
    page.wait_for_url(f"**/article/{enc(slug)}")
    assert page.get_by_test_id("article-title").inner_text() == "새 제목"
    listening(page, f"article:{slug}")
    later = api.comment(author, slug, "새 주소의 댓글")
    page.locator(f"[data-testid=comment][data-comment-id='{later['id']}']").wait_for()

    deleted = api.call("DELETE", f"/api/articles/{enc(slug)}", user=author)
    assert deleted.status_code == 204
    notice = page.get_by_test_id("article-deleted")
    notice.wait_for()
    assert "deleted" in notice.inner_text()
    assert page.get_by_test_id("comment-form").count() == 0


def test_a_moderator_locks_an_article_and_deletes_a_comment_and_the_article(
    new_context: Contexts, api: Api
) -> None:
    author, commenter, moderator = api.register(), api.register(), api.register()
    api.set_role(moderator, "moderator")
    article = api.create_article(author, title=f"잠글 글 {uuid4().hex[:6]}")
    slug = article["slug"]
    comment = api.comment(commenter, slug, "지울 댓글")
    page = signed_in(new_context, moderator).new_page()
    page.goto(f"/article/{enc(slug)}")
    page.get_by_test_id("comment-form").wait_for()
    assert page.get_by_test_id("edit-article").count() == 0  # moderators do not edit

    page.get_by_test_id("lock").click()
    page.get_by_test_id("locked").wait_for()
    assert page.get_by_test_id("lock").get_attribute("aria-pressed") == "true"
    assert page.get_by_test_id("comment-form").count() == 0
    refused = api.call(
        "POST",
        f"/api/articles/{enc(slug)}/comments",
        user=commenter,
        json={"comment": {"body": "또"}},
    )
    assert refused.status_code == 403
    assert api.call("GET", f"/api/articles/{enc(slug)}").json()["article"]["locked"] is True

    # A comment of a lower role: deleted after an inline confirmation; Escape cancels it.
    shown = page.locator(f"[data-testid=comment][data-comment-id='{comment['id']}']")
    shown.get_by_test_id("delete-comment").click()
    page.keyboard.press("Escape")
    assert page.get_by_test_id("confirm").count() == 0
    shown.get_by_test_id("delete-comment").click()
    page.get_by_test_id("confirm").click()
    shown.wait_for(state="detached")
    left = api.call("GET", f"/api/articles/{enc(slug)}/comments").json()["comments"]
    assert left == []

    # The article, with a reason for the log; Enter in the reason confirms.
    page.get_by_test_id("delete-article").click()
    page.get_by_test_id("reason").fill("규칙 위반")
    page.get_by_test_id("reason").press("Enter")
    page.wait_for_url(f"**/board/{article['board']}")
    assert api.call("GET", f"/api/articles/{enc(slug)}").status_code == 404
    log = api.call("GET", "/api/moderation/log", user=moderator).json()["entries"]
    assert (log[0]["action"], log[0]["reason"]) == ("delete_article", "규칙 위반")


def test_a_moderator_cannot_delete_an_equal_roles_comment(new_context: Contexts, api: Api) -> None:
    author, moderator, other = api.register(), api.register(), api.register()
    api.set_role(moderator, "moderator")
    api.set_role(other, "moderator")
    article = api.create_article(author)
    api.comment(other, article["slug"], "동료의 댓글")
    page = signed_in(new_context, moderator).new_page()
    page.goto(f"/article/{enc(article['slug'])}")
    page.get_by_test_id("comment").wait_for()
    # No button is offered for what the API would refuse.
    assert page.get_by_test_id("delete-comment").count() == 0
    assert page.get_by_test_id("delete-article").count() == 1  # the author is a user


def test_the_board_shows_a_bar_for_new_posts_that_shows_them(
    new_context: Contexts, api: Api
) -> None:
    author = api.register()
    board = new_board(api, f"새소식 {uuid4().hex[:6]}")
    api.create_article(author, title="먼저 쓴 글", board=board["slug"])
    page = watching(new_context()).new_page()
    page.goto(f"/board/{enc(board['slug'])}")
    page.get_by_test_id("article-preview").first.wait_for()
    listening(page, f"board:{board['slug']}")
    assert page.get_by_test_id("new-posts").count() == 0

    api.create_article(author, title="새 글 하나", board=board["slug"])
    api.create_article(author, title="새 글 둘", board=board["slug"])
    bar = page.get_by_test_id("new-posts")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=new-posts]')?.textContent.startsWith('2 new')"
    )
    assert bar.locator("xpath=..").get_attribute("aria-live") == "polite"
    assert page.get_by_test_id("article-preview").count() == 1
    bar.click()
    page.wait_for_function(
        "() => document.querySelectorAll('[data-testid=article-preview]').length === 3"
    )
    assert page.get_by_test_id("new-posts").count() == 0
    titles = page.locator("[data-testid=article-preview] .preview-title").all_inner_texts()
    assert titles == ["새 글 둘", "새 글 하나", "먼저 쓴 글"]


def test_the_editor_shows_the_apis_errors_next_to_the_fields(
    new_context: Contexts, api: Api
) -> None:
    author = api.register()
    page = signed_in(new_context, author).new_page()
    page.goto("/editor")
    page.get_by_test_id("editor-submit").click()
    for name in ("title", "description", "body"):
        error = page.locator(f"[data-error-for={name}]")
        # Right after its input ("body" is said without its name: api.fieldMessage).
        assert error.inner_text().endswith("can't be blank")
        assert error.evaluate("(e) => e.previousElementSibling.dataset.field") == name
    page.get_by_test_id("editor-title").fill("태그가 너무 많은 글")
    page.get_by_label("What is it about?").fill("d")
    page.get_by_test_id("editor-body").fill("b")
    page.get_by_test_id("editor-tags").fill(",".join(f"태그{n}" for n in range(11)) + ",")
    page.get_by_test_id("editor-submit").click()
    error = page.locator("[data-error-for=tagList]")
    error.wait_for()
    assert "10" in error.inner_text()
    assert page.get_by_test_id("editor-tags").get_attribute("aria-invalid") == "true"
    assert page.locator("[data-error-for=title]").count() == 0


def test_signed_out_the_editor_asks_to_sign_in_first(page: Page) -> None:
    page.goto("/editor?board=general")
    page.wait_for_url("**/login?next=*")
    assert page.url.endswith("/login?next=%2Feditor%3Fboard%3Dgeneral")


def test_the_pages_fit_a_phone_screen(new_context: Contexts, api: Api) -> None:
    author = api.register()
    article = api.create_article(
        author,
        title="아주 긴 제목 " * 8,
        body="긴-단어-" * 40 + "\n\n```\n" + "x" * 200 + "\n```",
        tags=["하나", "둘", "셋"],
    )
    api.comment(author, article["slug"], "댓글 " * 50)
    page = signed_in(new_context, author, viewport={"width": 360, "height": 740}).new_page()
    for path in (f"/article/{enc(article['slug'])}", "/board/general", "/editor"):
        page.goto(path, wait_until="networkidle")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 360, f"{path} is {width} px wide at 360"


def test_axe_finds_no_serious_violations_on_the_board_article_and_editor(
    new_context: Contexts, api: Api
) -> None:
    author, reader = api.register(), api.register()
    article = api.create_article(
        author, title="접근성 점검", body="# 제목\n\n[링크](https://example.org)", tags=["a11y"]
    )
    api.comment(reader, article["slug"], "# 댓글 제목\n\n본문")
    page = signed_in(new_context, author).new_page()
    for path, ready in (
        (f"/article/{enc(article['slug'])}", "comment"),
        (f"/board/{article['board']}", "article-preview"),
        ("/editor", "editor-title"),
    ):
        page.goto(path)
        page.get_by_test_id(ready).first.wait_for()
        violations = axe_violations(page)
        assert violations == [], f"{path}:\n{describe_violations(violations)}"
    # The editor's preview tab and an inline confirmation, as they are shown.
    page.get_by_test_id("editor-body").fill("# 미리보기")
    page.get_by_role("tab", name="Preview").click()
    assert (violations := axe_violations(page)) == [], describe_violations(violations)
    page.goto(f"/article/{enc(article['slug'])}")
    # Headings in order: the title the only h1, the body's from h2, a comment's from h3.
    page.get_by_test_id("comment").wait_for()
    assert page.locator("h1").all_inner_texts() == ["접근성 점검"]
    assert page.get_by_test_id("article-body").locator("h2").inner_text() == "제목"
    assert page.get_by_test_id("comment").locator("h3").inner_text() == "댓글 제목"
    page.get_by_test_id("delete-article").click()
    page.get_by_test_id("confirm").wait_for()
    assert (violations := axe_violations(page)) == [], describe_violations(violations)
