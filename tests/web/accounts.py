"""Helpers of the account, moderation and keyboard browser tests: signing in through the
page, reading the token the page keeps, and Playwright's ``expect`` imported late (the
conftest's fixtures skip, or fail under CI, when Playwright is missing)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tests.web.conftest import User

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

TOKEN_KEY = "fastboard.token"


def expect(target: Locator | Page) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def sign_in(page: Page, user: User, *, next_path: str | None = None) -> None:
    """Signs ``user`` in with the sign-in form, as a person does; waits until the header
    shows them (the profile link is in the DOM even where the phone menu folds it)."""
    page.goto("/login" if next_path is None else f"/login?next={next_path}")
    form = page.get_by_test_id("login-form")
    form.get_by_label("Email").fill(user.email)
    form.get_by_label("Password").fill(user.password)
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("nav-profile")).to_have_attribute("href", profile_path(user))


def profile_path(user: User) -> str:
    from urllib.parse import quote

    return f"/profile/{quote(user.username, safe='')}"


def stored_token(page: Page) -> str | None:
    token: str | None = page.evaluate(f"() => localStorage.getItem({TOKEN_KEY!r})")
    return token
