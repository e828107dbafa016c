"""The UI in a real browser, whatever its pages show: it loads through NGINX and from the
dev server without a console error or a CSP violation, deep links load it, the first visit
stays within its transfer budget, and the harness itself catches what it must."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from fastboard.resources import web_root
from fastboard.webui import WEB_CSP
from tests.web.conftest import Api, BrowserProblems, Contexts, axe_violations, describe_violations

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

# Issue 9: the first visit of the home page through NGINX transfers less than this.
TRANSFER_BUDGET = 200 * 1024
KOREAN_ARTICLE = "/article/%EC%95%88%EB%85%95-%ED%95%98%EC%84%B8%EC%9A%94"  # 안녕-하세요


def index_html() -> str:
    return (web_root() / "index.html").read_text()


def test_the_home_page_loads_through_nginx_without_errors(page: Page) -> None:
    response = page.goto("/", wait_until="networkidle")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-security-policy"] == WEB_CSP
    assert response.text() == index_html()
    # browser_problems fails the test on any console error or CSP violation from here on.


@pytest.mark.parametrize("path", [KOREAN_ARTICLE, "/profile/ada.lovelace", "/settings"])
def test_a_deep_link_loads_the_app(page: Page, path: str) -> None:
    response = page.goto(path, wait_until="networkidle")
    assert response is not None
    assert response.status == 200
    assert response.text() == index_html()


def test_the_first_visit_stays_within_the_transfer_budget(page: Page, api: Api) -> None:
    """What a first visit costs on the wire: every response body of the page's requests
    (document, modules, styles, images, API calls) as transferred, compressed where NGINX
    compresses, from an empty cache until the network is idle. Headers are not counted."""
    author = api.register()
    for number in range(20):  # a full first page of articles, tags and authors to show
        api.create_article(
            author,
            title=f"예산 {number}: a title long enough to look real",
            description="A description of a few words, as people write them. " * 3,
            body="Body **Markdown** text. " * 50,
            tags=[f"tag{number % 7}", "budget"],
        )
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    page.goto("/", wait_until="networkidle")
    sizes = {r.url: r.request.sizes()["responseBodySize"] for r in responses}
    total = sum(sizes.values())
    listed = "\n".join(f"{size:>8}  {url}" for url, size in sorted(sizes.items()))
    assert total < TRANSFER_BUDGET, f"{total} bytes on the first visit:\n{listed}"
    assert sizes, "the page made no request at all"


def test_a_csp_violation_fails_a_test(page: Page, browser_problems: BrowserProblems) -> None:
    """The harness sees what the policy blocks: inline script must never run."""
    page.goto("/", wait_until="networkidle")
    page.evaluate(
        """() => {
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.body.append(script);
        }"""
    )
    page.wait_for_function("() => true")  # let the violation event reach the console
    assert page.evaluate("() => window.inlineRan === undefined")
    # Reported twice: by the page's violation event and by Chromium's own console message.
    assert any("CSP violation: script-src" in problem for problem in browser_problems.found)
    assert any("Content Security Policy" in problem for problem in browser_problems.found)
    browser_problems.allow("CSP violation: script-src|Content Security Policy directive")


def test_console_errors_and_missing_files_fail_a_test(
    page: Page, browser_problems: BrowserProblems
) -> None:
    page.goto("/", wait_until="networkidle")
    page.evaluate("() => console.error('something broke')")
    page.evaluate(
        """() => new Promise((done) => {
            const style = document.createElement("link");
            style.rel = "stylesheet";
            style.href = "/assets/no-such-file.css";
            style.onerror = done;
            document.head.append(style);
        })"""
    )
    assert any("something broke" in problem for problem in browser_problems.found)
    assert any("no-such-file.css" in problem for problem in browser_problems.found)
    browser_problems.allow("something broke|no-such-file.css")


def test_an_api_error_the_page_handles_is_not_a_problem(
    page: Page, browser_problems: BrowserProblems
) -> None:
    page.goto("/", wait_until="networkidle")
    status = page.evaluate("() => fetch('/api/articles/no-such-article').then((r) => r.status)")
    assert status == 404
    assert browser_problems.unexpected() == []


def test_the_api_helper_makes_users_articles_comments_and_roles(api: Api) -> None:
    ada = api.register("에이다-" + api.register().username[-6:])
    article = api.create_article(ada, title="안녕 하세요", tags=["한국어"])
    comment = api.comment(ada, article["slug"], "첫 댓글")
    api.set_role(ada, "moderator")
    me = api.call("GET", "/api/user", user=ada).json()["user"]
    assert article["author"]["username"] == ada.username
    assert comment["body"] == "첫 댓글"
    assert me["role"] == "moderator"


def test_the_dev_server_serves_the_same_ui(new_context: Contexts, dev_server_url: str) -> None:
    page = new_context(base_url=dev_server_url).new_page()
    response = page.goto(KOREAN_ARTICLE, wait_until="networkidle")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-security-policy"] == WEB_CSP
    assert response.text() == index_html()


def test_axe_runs_under_the_pages_policy_and_reports_violations(page: Page) -> None:
    """The helper page tests use for issue 9's accessibility checks (whether the pages
    pass is for their own tests)."""
    page.goto("/", wait_until="networkidle")
    before = {violation["id"] for violation in axe_violations(page)}
    # An image without a text alternative is a critical violation.
    page.evaluate(
        """() => {
            const image = document.createElement("img");
            image.src = "data:image/gif;base64,R0lGODlhAQABAAAAACw=";
            document.body.append(image);
        }"""
    )
    after = axe_violations(page)
    assert "image-alt" not in before
    assert "image-alt" in {violation["id"] for violation in after}, describe_violations(after)
    within = axe_violations(page, selector="body", impacts=("critical",))
    assert "image-alt" in {violation["id"] for violation in within}
