"""Moderation in the browser: who may open the page, suspending (reason required, the end
time given in the moderator's own time zone), what a suspended user sees when they write,
lifting, roles for admins, the log with its pages, and the same forms on a profile."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from tests.web.accounts import expect, profile_path, sign_in
from tests.web.conftest import Api, Contexts, User, axe_violations, describe_violations

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.stack


def moderator(api: Api, role: str = "moderator") -> User:
    user = api.register()
    api.set_role(user, role)
    return user


def log_entries(api: Api, by: User) -> list[dict[str, str]]:
    response = api.call("GET", "/api/moderation/log?limit=100", user=by)
    assert response.status_code == 200, response.text
    entries: list[dict[str, str]] = response.json()["entries"]
    return entries


def test_a_reader_without_a_role_has_no_access(page: Page, api: Api) -> None:
    ada = api.register()
    sign_in(page, ada)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Moderation")).to_have_count(0)
    page.goto("/moderation")
    expect(page.get_by_role("heading", level=1)).to_have_text("Moderation")
    expect(page.get_by_role("main")).to_contain_text("You do not have access")
    expect(page.get_by_test_id("suspend-form")).to_have_count(0)
    expect(page.get_by_test_id("moderation-log")).to_have_count(0)


def test_a_suspended_user_cannot_post_and_is_told_why(new_context: Contexts, api: Api) -> None:
    mod, author, target = moderator(api), api.register(), api.register()
    article = api.create_article(author, title="A thread to write in")

    mod_page = new_context(timezone_id="Asia/Seoul").new_page()
    sign_in(mod_page, mod)
    mod_page.get_by_role("navigation", name="Main").get_by_role("link", name="Moderation").click()
    expect(mod_page).to_have_url("/moderation")
    expect(mod_page.get_by_test_id("role-form")).to_have_count(0)  # admins only
    form = mod_page.get_by_test_id("suspend-form")
    form.get_by_label("Username").fill("no-such-user-anywhere")
    form.get_by_label("Suspended until").fill("2030-01-31T21:00")
    form.get_by_role("button", name="Suspend").click()
    expect(form.locator("[data-error-for=reason]")).to_have_text("reason can't be blank")

    form.get_by_label("Reason").fill("spam, again")
    form.get_by_role("button", name="Suspend").click()
    expect(form.locator("[data-error-for=username]")).to_have_text("username is not a known user")

    form.get_by_label("Username").fill(target.username)
    form.get_by_role("button", name="Suspend").click()
    expect(form.get_by_test_id("form-status")).to_contain_text(f"{target.username} is suspended")
    log = mod_page.get_by_test_id("moderation-log")
    expect(log.get_by_test_id("log-entry").first).to_contain_text(f"suspended {target.username}")
    expect(log.get_by_test_id("log-entry").first).to_contain_text("spam, again")
    # 21:00 in Seoul (UTC+9) is noon UTC: the input's local time went out with its offset.
    entry = next(e for e in log_entries(api, mod) if e["target"] == target.username)
    assert entry["detail"] == "until 2030-01-31T12:00:00.000Z"

    # The suspended user signs in fine; their writes are refused where they make them.
    target_page = new_context().new_page()
    sign_in(target_page, target)
    target_page.goto(f"/article/{quote(article['slug'], safe='')}")
    comment_form = target_page.get_by_test_id("comment-form")
    comment_form.get_by_test_id("comment-body").fill("Can I still post?")
    comment_form.get_by_role("button", name="Post comment").click()
    expect(comment_form.locator("[data-form-errors]")).to_contain_text(
        "your account is suspended until 2030-01-31T12:00:00.000Z"
    )
    expect(target_page.get_by_test_id("comment")).to_have_count(0)
    comments = api.http.get(f"/api/articles/{article['slug']}/comments").json()["comments"]
    assert comments == []

    target_page.goto("/settings")
    settings = target_page.get_by_test_id("settings-form")
    settings.get_by_label("Bio").fill("still here")
    settings.get_by_role("button", name="Save profile").click()
    expect(settings.locator("[data-form-errors]")).to_contain_text("your account is suspended")
    assert api.http.get(f"/api/profiles/{target.username}").json()["profile"]["bio"] == ""

    # Lifted: the same comment goes through.
    lift = mod_page.get_by_test_id("lift-form")
    lift.get_by_label("Username").fill(target.username)
    lift.get_by_role("button", name="Lift suspension").click()
    expect(lift.get_by_test_id("form-status")).to_have_text(f"{target.username} is not suspended.")
    target_page.goto(f"/article/{quote(article['slug'], safe='')}")
    comment_form = target_page.get_by_test_id("comment-form")
    comment_form.get_by_test_id("comment-body").fill("Back again")
    comment_form.get_by_role("button", name="Post comment").click()
    expect(target_page.get_by_test_id("comment")).to_contain_text("Back again")


def test_an_admin_sets_roles_and_errors_stay_by_their_fields(page: Page, api: Api) -> None:
    admin, target = moderator(api, "admin"), api.register()
    sign_in(page, admin)
    page.goto(f"/moderation?user={quote(target.username)}")
    form = page.get_by_test_id("role-form")
    expect(form.get_by_label("Username")).to_have_value(target.username)  # ?user= prefills
    form.get_by_label("Role").select_option("moderator")
    form.get_by_role("button", name="Set role").click()
    expect(form.get_by_test_id("form-status")).to_have_text(f"{target.username} is now moderator.")
    profile = api.http.get(f"/api/profiles/{target.username}").json()["profile"]
    assert profile["role"] == "moderator"
    expect(page.get_by_test_id("log-entry").first).to_contain_text(
        f"changed the role of {target.username}"
    )

    form.get_by_label("Username").fill("no-such-user-anywhere")
    form.get_by_role("button", name="Set role").click()
    expect(form.locator("[data-error-for=username]")).to_have_text("username is not a known user")


def test_moderating_from_a_profile(page: Page, api: Api) -> None:
    admin, target, other_admin = moderator(api, "admin"), api.register(), moderator(api, "admin")
    sign_in(page, admin)
    page.goto(profile_path(other_admin))
    expect(page.get_by_test_id("profile-name")).to_contain_text("admin")  # the role badge
    expect(page.get_by_test_id("profile-moderation")).to_have_count(0)  # an equal role

    page.goto(profile_path(target))
    panel = page.get_by_test_id("profile-moderation")
    panel.get_by_text(f"Moderate {target.username}").click()
    suspend = panel.get_by_test_id("suspend-form")
    expect(suspend.get_by_label("Username")).to_have_count(0)  # it is this profile's user
    suspend.get_by_label("Reason").fill("cooling off")
    suspend.get_by_role("button", name="Suspend").click()
    expect(suspend.get_by_test_id("form-status")).to_contain_text("is suspended until")
    refused = api.call("PUT", "/api/user", user=target, json={"user": {"bio": "x"}})
    assert refused.status_code == 403

    role = panel.get_by_test_id("role-form")
    role.get_by_label("Role").select_option("moderator")
    role.get_by_role("button", name="Set role").click()
    expect(page.get_by_test_id("profile-name")).to_contain_text("moderator")

    lift = panel.get_by_test_id("lift-form")
    lift.get_by_role("button", name="Lift suspension").click()
    expect(lift.get_by_test_id("form-status")).to_have_text(f"{target.username} is not suspended.")
    assert api.call("PUT", "/api/user", user=target, json={"user": {"bio": "x"}}).status_code == 200


def test_the_moderation_log_has_pages(page: Page, api: Api) -> None:
    mod, target = moderator(api), api.register()
    for _ in range(11):  # 22 entries: more than one page of 20 whatever else is logged
        body = {"suspension": {"until": "2031-01-01T00:00:00Z", "reason": "paging"}}
        suspended = api.call(
            "POST", f"/api/profiles/{target.username}/suspension", user=mod, json=body
        )
        assert suspended.status_code == 200, suspended.text
        lifted = api.call("DELETE", f"/api/profiles/{target.username}/suspension", user=mod)
        assert lifted.status_code == 200, lifted.text
    sign_in(page, mod)
    page.goto("/moderation")
    log = page.get_by_test_id("moderation-log")
    expect(log.get_by_test_id("log-entry")).to_have_count(20)
    expect(log.get_by_test_id("log-entry").first).to_contain_text(
        f"lifted the suspension of {target.username}"
    )
    log.get_by_role("navigation", name="Pages").get_by_role("link", name="Page 2").click()
    expect(page).to_have_url("/moderation?page=2")
    expect(page.get_by_test_id("moderation-log").get_by_test_id("log-entry").first).to_be_visible()
    first_on_two = page.get_by_test_id("log-entry").first.inner_text()
    total = api.call("GET", "/api/moderation/log?limit=1", user=mod).json()["entriesCount"]
    assert total >= 22
    second_page = api.call("GET", "/api/moderation/log?limit=20&offset=20", user=mod).json()
    assert second_page["entries"][0]["moderator"] in first_on_two


@pytest.mark.parametrize("width", [1280, 360])
def test_the_moderation_pages_have_no_serious_accessibility_violations(
    new_context: Contexts, api: Api, width: int
) -> None:
    admin, target = moderator(api, "admin"), api.register()
    page = new_context(viewport={"width": width, "height": 800}).new_page()
    sign_in(page, admin)
    page.goto("/moderation")
    expect(page.get_by_test_id("log-entry").first).to_be_visible()
    on_page = axe_violations(page)
    assert not on_page, describe_violations(on_page)
    page.goto(profile_path(target))
    page.get_by_text(f"Moderate {target.username}").click()
    expect(page.get_by_test_id("role-form")).to_be_visible()
    on_profile = axe_violations(page)
    assert not on_profile, describe_violations(on_profile)
