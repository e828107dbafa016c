"""User content can never run script: classic XSS payloads stored through the API as
titles, descriptions, bodies, comments, tags, bios and profile images are rendered on every
page that shows them, and nothing runs — no dialog opens, no payload's marker is set, no
script, frame or event-handler attribute reaches the document.

Every payload calls ``window.__xss(<n>)`` (or ``alert``): the test defines ``__xss`` before
the app loads and records every call, so a payload that runs anywhere is caught even if it
opens no dialog. The CSP (no inline script) is a second wall; the harness fails the test on
any CSP violation, so a payload stopped only by the CSP fails too: the page itself must
never insert it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote

import pytest

from tests.web.conftest import Api, Contexts

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Dialog, Page

pytestmark = pytest.mark.stack

PAYLOADS = [
    "<script>window.__xss(1)</script>",
    '<img src=x onerror="window.__xss(2)">',
    "<svg onload=window.__xss(3)>",
    "<svg><script>window.__xss(4)</script></svg>",
    '<iframe src="javascript:window.parent.__xss(5)"></iframe>',
    '<a href="javascript:window.__xss(6)">click me</a>',
    "[markdown link](javascript:window.__xss(7))",
    "[encoded](jav&#x61;script:window.__xss(8))",
    '![image](x" onerror="window.__xss(9))',
    '<details open ontoggle="window.__xss(10)">x</details>',
    '<body onload="window.__xss(11)">',
    "<math><mtext><table><mglyph><style><img src=x onerror=window.__xss(12)>",
    '"><img src=x onerror=window.__xss(13)>',
    '<object data="javascript:window.__xss(14)"></object>',
    '<form action="javascript:window.__xss(15)"><button>go</button></form>',
    '<input autofocus onfocus="window.__xss(16)">',
    "<style>@import 'javascript:window.__xss(17)';</style>",
    '<a href="&#106;avascript:window.__xss(18)">entity</a>',
    "``<img src=x onerror=window.__xss(19)>``",
    '<div style="background:url(javascript:window.__xss(20))">css</div>',
]
ALL = "\n\n".join(PAYLOADS)
IMAGE_PAYLOAD = 'javascript:window.__xss(99)" onerror="window.__xss(98)'

# Defined before any of the app's scripts: a payload that runs reports itself.
RECORDER = """
window.__xssCalls = [];
window.__xss = (n) => { window.__xssCalls.push(n); };
"""

# What must never be in the page's content, whatever the payloads: live script, frames,
# plugins, forms posting elsewhere, event-handler attributes, javascript: URLs.
DANGEROUS = """() => {
  const root = document.querySelector('main');
  const found = [];
  const tags = 'script, iframe, object, embed, frame, base, meta, link, style';
  for (const el of root.querySelectorAll(tags)) {
    found.push(el.outerHTML.slice(0, 120));
  }
  for (const el of root.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const value = attr.value.replace(/[\\s\\u0000-\\u001f]/g, '').toLowerCase();
      const url = value.startsWith('javascript:') || value.startsWith('data:text/html');
      if (attr.name.startsWith('on') || url) {
        found.push(`${el.tagName} ${attr.name}=${attr.value.slice(0, 80)}`);
      }
    }
  }
  return found;
}"""


def watched(context: BrowserContext, dialogs: list[str]) -> Page:
    context.add_init_script(RECORDER)
    page = context.new_page()

    def dismiss(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return page


def assert_nothing_ran(page: Page, dialogs: list[str], where: str) -> None:
    # Give any deferred payload (onerror of a broken image, ontoggle) time to fire.
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xssCalls") == [], f"a payload ran on {where}"
    assert dialogs == [], f"a dialog opened on {where}: {dialogs}"
    assert page.evaluate(DANGEROUS) == [], f"dangerous markup on {where}"


def test_usernames_cannot_carry_markup_at_all(api: Api) -> None:
    """The one field the UI would otherwise show everywhere: the API refuses markup in it."""
    response = api.http.post(
        "/api/users",
        json={"user": {"username": "<b>x</b>", "email": "xss@example.org", "password": "x" * 12}},
    )
    assert response.status_code == 422
    assert "username" in response.json()["errors"]


def test_payloads_in_every_field_render_as_text_and_never_run(
    new_context: Contexts, api: Api
) -> None:
    author = api.register()
    reader = api.register()
    # Bio and image: the profile page and every byline.
    bio = api.call("PUT", "/api/user", user=author, json={"user": {"bio": ALL}})
    assert bio.status_code == 200, bio.text
    # A javascript: image is either refused by the API or never loaded by the UI.
    image = api.call("PUT", "/api/user", user=author, json={"user": {"image": IMAGE_PAYLOAD}})
    assert image.status_code in (200, 422), image.text
    article = api.create_article(
        author,
        title=PAYLOADS[1],
        description=PAYLOADS[2],
        body=ALL,
        tags=["<script>window.__xss(50)</script>", '"><svg onload=window.__xss(51)>'],
    )
    for payload in PAYLOADS:
        api.comment(reader, article["slug"], payload)

    dialogs: list[str] = []
    context = new_context()
    page = watched(context, dialogs)
    slug = quote(article["slug"], safe="")
    pages = {
        "home": "/",
        "board": "/board/general",
        "article": f"/article/{slug}",
        "profile": f"/profile/{quote(author.username)}",
        "tag filter": f"/?tag={quote(article['tagList'][0], safe='')}",
    }
    for where, path in pages.items():
        page.goto(path, wait_until="networkidle")
        assert_nothing_ran(page, dialogs, where)

    # Plain-text fields show the payload as text; Markdown keeps its harmless part (a
    # link's words) and loses the rest: the content is shown, not dropped.
    page.goto(f"/article/{slug}", wait_until="networkidle")
    assert page.get_by_test_id("article-title").inner_text() == PAYLOADS[1]
    comments = page.get_by_test_id("comment")
    assert comments.count() == len(PAYLOADS)
    link = page.get_by_test_id("comment").get_by_text("click me")
    assert link.count() == 1
    assert link.get_attribute("href") is None

    # The author's own views: the editor's Markdown preview renders the same body.
    signed_in = new_context()
    author_page = watched(signed_in, dialogs)
    author_page.goto("/login")
    author_page.get_by_label("Email").fill(author.email)
    author_page.get_by_label("Password").fill(author.password)
    author_page.get_by_role("button", name="Sign in").click()
    author_page.wait_for_url("**/")
    author_page.goto(f"/editor/{slug}", wait_until="networkidle")
    author_page.get_by_role("tab", name="Preview").click()
    assert author_page.get_by_test_id("preview").inner_text().strip() != ""
    assert_nothing_ran(author_page, dialogs, "editor preview")
    author_page.goto("/settings", wait_until="networkidle")
    assert_nothing_ran(author_page, dialogs, "settings")
