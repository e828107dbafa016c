"""Accounts in the browser: sign up and sign in (errors next to their fields, ``?next=``
honoured and never off the site, the 429 wait), settings (profile, password change that
keeps this tab signed in, data export, sign out, deletion that signs out)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING
from uuid import uuid4

import pytest

from tests.web.accounts import expect, profile_path, sign_in, stored_token
from tests.web.conftest import PASSWORD, Api, Contexts, axe_violations, describe_violations

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page, Route

pytestmark = pytest.mark.stack


def nav_link(page: Page, name: str) -> Locator:
    return page.get_by_role("navigation", name="Main").get_by_role("link", name=name)


def test_sign_up_shows_the_api_errors_next_to_their_fields_then_signs_in(
    page: Page, api: Api
) -> None:
    taken = api.register()
    page.goto("/register?next=/settings")
    form = page.get_by_test_id("register-form")
    form.get_by_label("Username").fill(taken.username)
    form.get_by_label("Email").fill(f"{uuid4().hex[:12]}@example.org")
    form.get_by_label("Password").fill("short")
    form.get_by_role("button", name="Sign up").click()
    # The schema refuses the password before the username is looked up.
    expect(form.locator("[data-error-for=password]")).to_contain_text("at least 8 characters")
    expect(form.get_by_label("Password")).to_have_attribute("aria-invalid", "true")

    form.get_by_label("Password").fill(PASSWORD)
    form.get_by_role("button", name="Sign up").click()
    expect(form.locator("[data-error-for=username]")).to_have_text(
        "username has already been taken"
    )
    expect(form.locator("[data-error-for=password]")).to_have_count(0)

    name = f"새사람{uuid4().hex[:6]}"  # any script is a username
    form.get_by_label("Username").fill(name)
    form.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url("/settings")
    expect(page.get_by_test_id("nav-profile")).to_contain_text(name)
    token = stored_token(page)
    assert token
    me = api.http.get("/api/user", headers={"Authorization": f"Token {token}"}).json()
    assert me["user"]["username"] == name


def test_sign_in_shows_a_refusal_and_honours_next(page: Page, api: Api) -> None:
    ada = api.register()
    page.goto("/login?next=/moderation%3Fuser%3Dx")
    form = page.get_by_test_id("login-form")
    form.get_by_label("Email").fill(ada.email)
    form.get_by_label("Password").fill("not the password")
    form.get_by_role("button", name="Sign in").click()
    expect(form.locator("[data-form-errors]")).to_have_text("email or password is invalid")
    assert stored_token(page) is None

    form.get_by_label("Password").fill(ada.password)
    form.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url("/moderation?user=x")
    expect(page.get_by_test_id("nav-profile")).to_have_attribute("href", profile_path(ada))


@pytest.mark.parametrize(
    "next_path",
    ["//evil.example/x", "/%5Cevil.example", "https://evil.example/", "javascript:alert(1)"],
)
def test_next_never_leaves_the_site(page: Page, api: Api, next_path: str) -> None:
    ada = api.register()
    sign_in(page, ada, next_path=next_path)
    expect(page).to_have_url("/")


def test_too_many_attempts_says_how_long_to_wait(page: Page) -> None:
    """NGINX's login limit answers 429 with Retry-After (the test stack lifts the limits,
    so the answer is played back here, as NGINX sends it)."""

    def limited(route: Route) -> None:
        route.fulfill(
            status=429,
            headers={"Retry-After": "17", "Content-Type": "application/json"},
            body=json.dumps({"errors": {"body": ["too many requests"]}}),
        )

    page.route("**/api/users/login", limited)
    page.goto("/login")
    form = page.get_by_test_id("login-form")
    form.get_by_label("Email").fill("someone@example.org")
    form.get_by_label("Password").fill("whatever1")
    form.get_by_role("button", name="Sign in").click()
    expect(form.locator("[data-form-errors]")).to_have_text("Too many attempts: try again in 17 s.")
    expect(form.get_by_role("button", name="Sign in")).to_be_disabled()  # until the wait is over


def test_the_sign_in_and_sign_up_pages_link_to_each_other_keeping_next(page: Page) -> None:
    page.goto("/login?next=/settings")
    page.get_by_role("link", name="Create an account").click()
    expect(page).to_have_url("/register?next=%2Fsettings")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign up")
    page.get_by_role("main").get_by_role("link", name="Sign in").click()
    expect(page).to_have_url("/login?next=%2Fsettings")


def test_settings_change_the_profile(page: Page, api: Api) -> None:
    ada = api.register()
    sign_in(page, ada)
    page.goto("/settings")
    form = page.get_by_test_id("settings-form")
    expect(form.get_by_label("Username")).to_have_value(ada.username)
    form.get_by_label("Bio").fill("한국어 소개\nsecond line")
    new_name = f"{ada.username}-2"
    form.get_by_label("Username").fill(new_name)
    form.get_by_role("button", name="Save profile").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Your profile is saved.")
    expect(page.get_by_test_id("nav-profile")).to_contain_text(new_name)

    profile = api.http.get(f"/api/profiles/{new_name}").json()["profile"]
    assert profile["bio"] == "한국어 소개\nsecond line"

    # Another user's name is refused next to the field.
    other = api.register()
    form = page.get_by_test_id("settings-form")
    form.get_by_label("Username").fill(other.username)
    form.get_by_role("button", name="Save profile").click()
    expect(form.locator("[data-error-for=username]")).to_have_text(
        "username has already been taken"
    )


def test_a_password_change_keeps_this_tab_signed_in(page: Page, api: Api) -> None:
    ada = api.register()
    sign_in(page, ada)
    page.goto("/settings")
    old_token = stored_token(page)
    form = page.get_by_test_id("password-form")
    form.get_by_label("Current password").fill("wrong password")
    form.get_by_label("New password").fill("a new password, long enough")
    form.get_by_role("button", name="Change password").click()
    expect(form.locator("[data-error-for=currentPassword]")).to_contain_text(
        "is not your current password"
    )

    form.get_by_label("Current password").fill(ada.password)
    form.get_by_role("button", name="Change password").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Your password is changed")
    # The live connection is closed for the old token meanwhile (4401): this tab must
    # not take that for a sign-out. Reloading proves the stored token is the new one.
    page.wait_for_timeout(1500)
    expect(page.get_by_test_id("nav-profile")).to_be_attached()
    new_token = stored_token(page)
    assert new_token
    assert new_token != old_token
    page.reload()
    expect(page.get_by_test_id("nav-profile")).to_have_attribute("href", profile_path(ada))
    expect(page).to_have_url("/settings")

    old = api.http.get("/api/user", headers={"Authorization": f"Token {old_token}"})
    assert old.status_code == 401
    login = {"user": {"email": ada.email, "password": "a new password, long enough"}}
    assert api.http.post("/api/users/login", json=login).status_code == 200


def test_the_data_export_downloads_a_json_file(page: Page, api: Api, tmp_path: Path) -> None:
    ada = api.register()
    api.create_article(ada, title="내보내기 article")
    sign_in(page, ada)
    page.goto("/settings")
    with page.expect_download() as info:
        page.get_by_test_id("export").click()
    download = info.value
    assert download.suggested_filename == f"fastboard-export-{ada.username}.json"
    saved = tmp_path / "export.json"
    download.save_as(saved)
    exported = json.loads(saved.read_text())["export"]
    assert exported["user"]["username"] == ada.username
    assert [a["title"] for a in exported["articles"]] == ["내보내기 article"]


def test_sign_out(page: Page, api: Api) -> None:
    ada = api.register()
    sign_in(page, ada)
    page.goto("/settings")
    page.get_by_test_id("sign-out").click()
    expect(page).to_have_url("/")
    expect(nav_link(page, "Sign in")).to_be_visible()
    assert stored_token(page) is None


def test_deleting_the_account_signs_out(page: Page, api: Api) -> None:
    ada = api.register()
    sign_in(page, ada)
    page.goto("/settings")
    token = stored_token(page)
    form = page.get_by_test_id("delete-account")
    form.get_by_label("Type your username to confirm").fill("somebody else")
    form.get_by_label("Your password").fill(ada.password)
    form.get_by_role("button", name="Delete my account").click()
    expect(form.locator("[data-error-for=confirmation]")).to_contain_text(
        "does not match your username"
    )
    assert api.http.get(f"/api/profiles/{ada.username}").status_code == 200

    form.get_by_label("Type your username to confirm").fill(ada.username)
    form.get_by_label("Your password").fill("wrong password")
    form.get_by_role("button", name="Delete my account").click()
    expect(form.locator("[data-error-for=password]")).to_contain_text(
        "is not your current password"
    )

    form.get_by_label("Your password").fill(ada.password)
    form.get_by_role("button", name="Delete my account").click()
    expect(page).to_have_url("/")
    expect(page.get_by_test_id("flash")).to_contain_text("Your account is deleted")
    expect(nav_link(page, "Sign in")).to_be_visible()
    assert stored_token(page) is None
    assert api.http.get(f"/api/profiles/{ada.username}").status_code == 404
    gone = api.http.get("/api/user", headers={"Authorization": f"Token {token}"})
    assert gone.status_code == 401


def test_a_profile_shows_articles_and_favorites_and_follows(page: Page, api: Api) -> None:
    ada, bob = api.register(), api.register()
    mine = api.create_article(ada, title="Ada's own")
    liked = api.create_article(bob, title="Bob's, liked by Ada")
    api.call("POST", f"/api/articles/{liked['slug']}/favorite", user=ada)
    sign_in(page, bob)
    page.goto(profile_path(ada))
    expect(page.get_by_test_id("profile-name")).to_have_text(ada.username)
    previews = page.get_by_test_id("article-preview")
    expect(previews).to_have_count(1)
    expect(previews.first).to_contain_text(mine["title"])
    page.get_by_role("link", name="Favorites").click()
    expect(page).to_have_url(f"{profile_path(ada)}/favorites")
    expect(previews).to_have_count(1)
    expect(previews.first).to_contain_text(liked["title"])

    page.get_by_test_id("follow").click()
    expect(page.get_by_test_id("follow")).to_have_attribute("aria-pressed", "true")
    followed = api.call("GET", f"/api/profiles/{ada.username}", user=bob).json()["profile"]
    assert followed["following"] is True

    page.goto(profile_path(bob))
    expect(page.get_by_test_id("follow")).to_have_count(0)  # not on your own
    page.goto("/profile/nobody-by-this-name")
    expect(page.get_by_role("heading", level=1)).to_have_text("Profile not found")


@pytest.mark.parametrize("width", [1280, 360])
def test_the_account_pages_have_no_serious_accessibility_violations(
    new_context: Contexts, api: Api, width: int
) -> None:
    ada = api.register()
    api.create_article(ada, title="Something to list")
    page = new_context(viewport={"width": width, "height": 800}).new_page()
    found = {}
    for path in ("/login", "/register"):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        found[path] = axe_violations(page)
    sign_in(page, ada)
    for path in (
        "/settings",
        profile_path(ada),
        f"{profile_path(ada)}/favorites",
        "/profile/nobody-x",
    ):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.get_by_role("status")).to_have_count(0)  # nothing still loading
        assert page.locator("h1").count() == 1, path
        found[path] = axe_violations(page)
    assert not any(found.values()), "\n".join(
        f"{path}:\n{describe_violations(violations)}" for path, violations in found.items()
    )


def test_a_comment_on_your_article_is_a_notification_that_links_to_it(page: Page, api: Api) -> None:
    ada, bob = api.register(), api.register()
    article = api.create_article(ada, title="Notify me")
    sign_in(page, ada)
    summary = page.get_by_test_id("notifications").locator("summary")
    expect(summary).to_have_attribute("aria-label", "Notifications")
    page.wait_for_timeout(500)  # the live connection subscribes to `me`
    api.comment(bob, article["slug"], "첫 댓글")
    api.comment(bob, article["slug"], "second")
    expect(page.get_by_test_id("notification-count")).to_have_text("2")
    summary.click()
    items = page.get_by_test_id("notification")
    expect(items).to_have_count(2)
    expect(items.first).to_have_text(f"{bob.username} commented on your article")
    items.first.click()
    expect(page).to_have_url(f"/article/{article['slug']}")
    expect(page.get_by_test_id("notification-count")).to_have_count(0)
