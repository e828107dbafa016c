"""Keyboard only, no mouse: signing in with Tab and Enter, the skip link, the
notification menu (Enter opens, Escape closes, focus comes back) and the phone menu."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.web.accounts import expect, profile_path, sign_in, stored_token
from tests.web.conftest import Api, Contexts

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = pytest.mark.stack

PHONE = {"width": 360, "height": 740}


def tab_to(page: Page, target: Locator, *, limit: int = 40) -> None:
    """Presses Tab until ``target`` has focus; fails if it never gets it (not in the tab
    order, or behind more than ``limit`` stops)."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("(element) => element === document.activeElement"):
            return
    pytest.fail(f"{target} never got focus in {limit} presses of Tab")


def test_signing_in_with_the_keyboard_only(page: Page, api: Api) -> None:
    ada = api.register()
    page.goto("/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Sign in")).to_be_visible()
    tab_to(page, nav.get_by_role("link", name="Sign in"))
    page.keyboard.press("Enter")
    expect(page).to_have_url("/login")
    # After a navigation, focus starts at the new page's heading.
    expect(page.get_by_role("heading", level=1)).to_be_focused()

    form = page.get_by_test_id("login-form")
    tab_to(page, form.get_by_label("Email"), limit=5)
    page.keyboard.type(ada.email)
    page.keyboard.press("Tab")
    expect(form.get_by_label("Password")).to_be_focused()
    page.keyboard.type("wrong password")
    page.keyboard.press("Enter")
    # The refusal takes focus, so it is read out; Shift+Tab goes back to fix the password.
    errors = form.locator("[data-form-errors]")
    expect(errors).to_have_text("email or password is invalid")
    expect(errors).to_be_focused()
    tab_to(page, form.get_by_label("Password"), limit=3)
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.type(ada.password)
    page.keyboard.press("Enter")
    expect(page).to_have_url("/")
    expect(nav.get_by_test_id("nav-profile")).to_have_attribute("href", profile_path(ada))
    assert stored_token(page)


def test_the_skip_link_moves_focus_to_the_content(page: Page) -> None:
    page.goto("/login")
    expect(page.get_by_test_id("login-form")).to_be_visible()
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    expect(skip).to_be_visible()  # shown when focused
    page.keyboard.press("Enter")
    expect(page.get_by_role("main")).to_be_focused()
    page.keyboard.press("Tab")
    # The next stop is in the page, not the header.
    expect(page.get_by_role("main").get_by_role("link", name="Create an account")).to_be_focused()


def test_the_notification_menu_with_the_keyboard(new_context: Contexts, api: Api) -> None:
    ada, bob = api.register(), api.register()
    page = new_context().new_page()
    sign_in(page, ada)
    # A fresh load: the first Tab starts at the top of the page, whatever the list shows.
    page.goto("/settings")
    menu = page.get_by_test_id("notifications")
    summary = menu.locator("summary")
    expect(summary).to_have_attribute("aria-label", "Notifications")
    page.wait_for_timeout(500)  # the live connection subscribes to `me`

    followed = api.call("POST", f"/api/profiles/{bob.username}/follow", user=ada)
    assert followed.status_code == 200
    assert api.call("POST", f"/api/profiles/{ada.username}/follow", user=bob).status_code == 200
    expect(page.get_by_test_id("notification-count")).to_have_text("1")
    expect(summary).to_have_attribute("aria-label", "Notifications, 1 new")

    tab_to(page, summary, limit=5)  # skip link, brand, bell: the header comes first
    page.keyboard.press("Enter")
    expect(menu).to_have_attribute("open", "")
    expect(page.get_by_test_id("notification-count")).to_have_count(0)  # seen now
    item = menu.get_by_test_id("notification")
    expect(item).to_have_text(f"{bob.username} followed you")
    page.keyboard.press("Tab")
    expect(item).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).not_to_have_attribute("open", "")
    expect(summary).to_be_focused()

    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    expect(page).to_have_url(profile_path(bob))
    expect(menu).not_to_have_attribute("open", "")


def test_the_phone_menu_with_the_keyboard(new_context: Contexts, api: Api) -> None:
    ada = api.register()
    page = new_context(viewport=PHONE).new_page()
    sign_in(page, ada)
    page.goto(profile_path(ada))  # a fresh load: Tab starts at the top
    nav = page.get_by_role("navigation", name="Main")
    toggle = nav.get_by_role("button", name="Menu")
    settings = nav.get_by_role("link", name="Settings")
    expect(settings).to_be_hidden()  # folded behind the button at 360 px
    tab_to(page, toggle, limit=5)
    page.keyboard.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    expect(settings).to_be_visible()
    tab_to(page, settings, limit=5)
    page.keyboard.press("Escape")
    expect(settings).to_be_hidden()
    expect(toggle).to_be_focused()
    expect(toggle).to_have_attribute("aria-expanded", "false")

    page.keyboard.press("Enter")
    tab_to(page, settings, limit=5)
    page.keyboard.press("Enter")
    expect(page).to_have_url("/settings")
    expect(settings).to_be_hidden()  # closed by the navigation
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= PHONE["width"]  # nothing wider than the phone
