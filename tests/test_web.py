"""The dev server serves the web UI from the package's web/ directory (the same files NGINX
serves in production): index.html for every page of the single-page app, the static
directories as files or a 404, the UI's security headers and cache policy; every other
path keeps its own answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import httpx
import pytest

from fastboard.app import DOCS_CSP, create_app
from fastboard.headers import API_CSP
from fastboard.resources import web_root
from fastboard.webui import WEB_CSP, is_page, is_versioned
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

# The policy issue 9 asks for, spelt out: changing it is a decision, not an accident.
UI_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
    "connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'; object-src 'none'"
)
FOREVER = "public, max-age=31536000, immutable"
NOT_FOUND = {"errors": {"body": ["Not Found"]}}
KOREAN_ARTICLE = "/article/%EC%95%88%EB%85%95-%ED%95%98%EC%84%B8%EC%9A%94"  # 안녕-하세요

ClientFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def web_client_for(tmp_path: Path) -> ClientFactory:
    """A client of an app in the given environment. No request here reaches the database:
    an unused SQLite path is enough."""

    @asynccontextmanager
    async def make(env: str = "test") -> AsyncIterator[httpx.AsyncClient]:
        settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/unused.db", tmp_path, env=env)
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client

    return make


@pytest.fixture
async def web_client(web_client_for: ClientFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with web_client_for() as client:
        yield client


def index_html() -> str:
    return (web_root() / "index.html").read_text()


def assert_ui_headers(response: httpx.Response) -> None:
    assert response.headers["content-security-policy"] == UI_POLICY
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"


def test_the_policy_is_the_one_asked_for() -> None:
    assert WEB_CSP == UI_POLICY


@pytest.mark.parametrize(
    "path",
    [
        "/",
        KOREAN_ARTICLE,
        "/article/some-slug",
        "/board/general",
        "/profile/ada.lovelace",  # usernames may hold dots: still a page
        "/editor",
        "/editor/some-slug",
        "/settings",
        "/login",
        "/register",
        "/search?q=%ED%95%9C%EA%B5%AD%EC%96%B4",
        "/moderation",
        "/no/such/page",  # the app's own router shows its "not found" page
        "/article/x?v=3",  # a version in a page URL does not make the page cacheable
    ],
)
async def test_every_page_is_index_html_never_cached(
    web_client: httpx.AsyncClient, path: str
) -> None:
    page = await web_client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.text == index_html()
    assert page.headers["cache-control"] == "no-cache"
    assert_ui_headers(page)


async def test_a_page_revalidates_with_a_304(web_client: httpx.AsyncClient) -> None:
    first = await web_client.get("/board/general")
    again = await web_client.get("/settings", headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


async def test_a_page_answers_head_and_refuses_other_methods(
    web_client: httpx.AsyncClient,
) -> None:
    head = await web_client.head("/article/some-slug")
    assert head.status_code == 200
    assert head.content == b""
    for method in ("POST", "PUT", "DELETE"):
        refused = await web_client.request(method, "/article/some-slug")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET, HEAD"
        assert refused.json() == {"errors": {"body": ["Method Not Allowed"]}}


@pytest.mark.parametrize(
    ("asset", "content_type"),
    [
        ("/assets/style.css", "text/css"),
        ("/app/main.js", "text/javascript"),
        ("/assets/favicon.svg", "image/svg+xml"),
        ("/vendor/marked.esm.js", "text/javascript"),
        # A module script needs a JavaScript type, .mjs too, whatever the host's mime.types.
        ("/vendor/purify.es.mjs", "text/javascript"),
        ("/index.html", "text/html"),
    ],
)
async def test_the_ui_files_are_served(
    web_client: httpx.AsyncClient, asset: str, content_type: str
) -> None:
    response = await web_client.get(asset)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert response.content == (web_root() / asset.removeprefix("/")).read_bytes()
    assert_ui_headers(response)


async def test_the_ui_modules_are_served_when_present(web_client: httpx.AsyncClient) -> None:
    """fastboard/web/app/ holds the UI's ES modules once the UI is there."""
    modules = sorted((web_root() / "app").rglob("*.js")) if (web_root() / "app").is_dir() else []
    if not modules:
        pytest.skip("no fastboard/web/app/ modules yet")
    for module in modules:
        response = await web_client.get("/" + module.relative_to(web_root()).as_posix())
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/javascript")
        assert response.content == module.read_bytes()


async def test_versioned_urls_are_cached_for_good_and_the_rest_revalidates(
    web_client: httpx.AsyncClient,
) -> None:
    versioned = await web_client.get("/vendor/marked.esm.js?v=18.2.1")
    plain = await web_client.get("/assets/style.css")
    index = await web_client.get("/index.html?v=7")
    assert versioned.headers["cache-control"] == FOREVER
    assert plain.headers["cache-control"] == "no-cache"
    assert index.headers["cache-control"] == "no-cache"
    revalidated = await web_client.get(
        "/assets/style.css", headers={"If-None-Match": plain.headers["etag"]}
    )
    assert revalidated.status_code == 304


async def test_the_development_server_caches_nothing_for_good(
    web_client_for: ClientFactory,
) -> None:
    """An edited file shows on the next reload, even when its URL kept its version."""
    async with web_client_for("development") as client:
        versioned = await client.get("/assets/style.css?v=1")
    assert versioned.status_code == 200
    assert versioned.headers["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path",
    [
        "/api/no-such-thing",
        "/api",
        "/assets/missing.css",
        "/assets/nope.js",
        "/vendor/nope.js",
        "/app/nope.js",
        "/robots.txt",
        "/.env",
        "/wp-login.php",
        "/docs/no-such-page",
        "/health/deep",
    ],
)
async def test_unknown_files_and_application_paths_are_the_json_404(
    web_client: httpx.AsyncClient, path: str
) -> None:
    response = await web_client.get(path)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_an_unknown_api_path_stays_a_404_whatever_the_method(
    web_client: httpx.AsyncClient,
) -> None:
    response = await web_client.post("/api/no-such-thing", json={})
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


async def test_other_paths_keep_their_own_answers(web_client: httpx.AsyncClient) -> None:
    assert (await web_client.get("/health")).json() == {"status": "ok"}
    docs = await web_client.get("/docs")
    assert "swagger-ui" in docs.text
    # Swagger UI runs inline script: /docs keeps its own policy, not the UI's.
    assert docs.headers["content-security-policy"] == DOCS_CSP
    assert (await web_client.get("/metrics")).headers["content-type"].startswith("text/plain")
    api = await web_client.get("/api/tags")
    # JSON gets the app's policy for JSON (fastboard/headers.py), not the UI's.
    assert api.headers["content-security-policy"] == API_CSP
    schema = (await web_client.get("/openapi.json")).json()
    assert "/api/articles" in schema["paths"]
    assert "/" not in schema["paths"]


async def test_pages_share_one_metrics_label(web_client: httpx.AsyncClient) -> None:
    for path in ("/article/first-slug", "/profile/someone", KOREAN_ARTICLE):
        await web_client.get(path)
    exposition = (await web_client.get("/metrics")).text
    assert 'route="<web page>"' in exposition
    assert "first-slug" not in exposition
    assert "someone" not in exposition


@pytest.mark.parametrize(
    ("path", "page"),
    [
        ("/", True),
        ("/article/안녕-하세요", True),
        ("/profile/ada.lovelace", True),
        ("/apis", True),
        ("/api", False),
        ("/api/tags", False),
        ("/docs/oauth2-redirect", False),
        ("/assets/x", False),
        ("/app/main", False),
        ("/vendor/x", False),
        ("/index.html", False),
        ("/robots.txt", False),
    ],
)
def test_which_paths_are_pages(path: str, page: bool) -> None:
    assert is_page(path) is page


@pytest.mark.parametrize(
    ("query", "versioned"),
    [(b"", False), (b"v=", False), (b"v=1", True), (b"a=1&v=2", True), (b"vv=1", False)],
)
def test_what_counts_as_a_versioned_url(query: bytes, versioned: bool) -> None:
    assert is_versioned(query) is versioned
