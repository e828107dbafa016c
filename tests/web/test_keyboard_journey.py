"""Keyboard only, no mouse: a reader signs in and posts a comment with Tab, typing and
Enter, and can see where the focus is at every step (a visible focus indicator)."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from tests.web.conftest import Api

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.stack

# Tab presses allowed to reach a control: a page whose controls are further away than
# this from the top is one nobody navigates by keyboard.
MAX_TABS = 40

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {
    tag: el.tagName.toLowerCase(),
    type: el.getAttribute('type'),
    label: el.labels && el.labels[0] ? el.labels[0].innerText.trim() : null,
    text: (el.innerText || '').trim(),
    testid: el.dataset.testid || null,
    outline: style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) > 0,
    shadow: style.boxShadow !== 'none',
  };
}"""


def tab_to(page: Page, matches: dict[str, str]) -> dict[str, object]:
    """Press Tab until the focused element has every attribute in ``matches``; that element.
    Every element the focus passes must show it visibly."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            continue
        assert focused["outline"] or focused["shadow"], f"focus is invisible on {focused}"
        if all(focused.get(key) == value for key, value in matches.items()):
            return focused  # type: ignore[no-any-return]
    raise AssertionError(f"{MAX_TABS} presses of Tab never reached {matches}")


def test_sign_in_and_comment_with_the_keyboard_alone(page: Page, api: Api) -> None:
    reader = api.register()
    author = api.register()
    article = api.create_article(author, title="키보드로 읽는 글", body="Keyboard **only**.")

    page.goto("/login", wait_until="networkidle")
    tab_to(page, {"tag": "input", "label": "Email"})
    page.keyboard.type(reader.email)
    tab_to(page, {"tag": "input", "label": "Password"})
    page.keyboard.type(reader.password)
    page.keyboard.press("Enter")
    page.wait_for_url("**/")
    page.get_by_test_id("nav-profile").wait_for()

    page.goto(f"/article/{quote(article['slug'], safe='')}", wait_until="networkidle")
    tab_to(page, {"testid": "comment-body"})
    page.keyboard.type("키보드만으로 남긴 댓글")
    tab_to(page, {"tag": "button", "text": "Post comment"})
    page.keyboard.press("Enter")

    posted = page.get_by_test_id("comment").filter(has_text="키보드만으로 남긴 댓글")
    posted.wait_for()
    assert posted.count() == 1
    stored = api.call("GET", f"/api/articles/{quote(article['slug'], safe='')}/comments").json()
    assert [c["body"] for c in stored["comments"]] == ["키보드만으로 남긴 댓글"]
    assert stored["comments"][0]["author"]["username"] == reader.username
