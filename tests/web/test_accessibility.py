"""axe-core on the main pages, as an anonymous reader, a signed-in user and an admin:
no serious or critical violation anywhere (labels, contrast, landmarks, headings, names of
controls, ARIA use), in light mode and at a phone's width."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from tests.web.conftest import Api, Contexts, axe_violations, describe_violations, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.stack


def check(page: Page, path: str, ready: str) -> None:
    page.goto(path, wait_until="networkidle")
    page.locator(ready).first.wait_for()
    violations = axe_violations(page)
    assert not violations, f"{path}:\n{describe_violations(violations)}"
    # One h1 per page: the heading screen-reader users jump to first.
    assert page.locator("main h1").count() == 1, path


@pytest.mark.parametrize("width", [1280, 360])
def test_the_main_pages_have_no_serious_accessibility_violations(
    new_context: Contexts, api: Api, width: int
) -> None:
    author = api.register()
    admin = api.register()
    api.set_role(admin, "admin")
    article = api.create_article(
        author,
        title="접근성 점검",
        body="# A heading\n\nText with a [link](https://example.org).",
        tags=["a11y"],
    )
    api.comment(admin, article["slug"], "A comment with **Markdown**.")
    slug = quote(article["slug"], safe="")
    profile = f"/profile/{quote(author.username)}"
    viewport = {"width": width, "height": 900}

    anonymous = new_context(viewport=viewport).new_page()
    for path, ready in (
        ("/", "[data-testid=article-preview]"),
        ("/board/general", "[data-testid=article-preview]"),
        (f"/article/{slug}", "[data-testid=comment]"),
        (profile, "[data-testid=profile-name]"),
        ("/login", "[data-testid=login-form]"),
        ("/register", "[data-testid=register-form]"),
        ("/no/such/page", "main h1"),
    ):
        check(anonymous, path, ready)

    signed_in = new_context(viewport=viewport)
    sign_in(signed_in, author)
    page = signed_in.new_page()
    for path, ready in (
        ("/?feed=1", "[data-testid=article-list]"),
        (f"/article/{slug}", "[data-testid=comment-form]"),
        (f"/editor/{slug}", "[data-testid=editor-title]"),
        ("/editor", "[data-testid=editor-title]"),
        ("/settings", "[data-testid=settings-form]"),
    ):
        check(page, path, ready)

    moderator = new_context(viewport=viewport)
    sign_in(moderator, admin)
    page = moderator.new_page()
    for path, ready in (
        ("/moderation", "[data-testid=moderation-log]"),
        (f"/article/{slug}", "[data-testid=lock]"),
        (profile, "[data-testid=profile-name]"),
    ):
        check(page, path, ready)
