"""What a client sees through NGINX: the API, the docs, the landing page, and everything
NGINX adds or refuses on its own (request ids, body limit, headers, compression)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from functools import partial
from typing import Any
from uuid import uuid4

import httpx
import pytest

from dev.stack import RunningStack
from fastboard.app import DOCS_CSP
from fastboard.headers import API_CSP
from fastboard.resources import web_root
from fastboard.webui import WEB_CSP
from tests.stack.conftest import app_log, nginx_log, register
from tests.stack.waiting import until

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

GENERATED_ID = re.compile(r"[0-9a-f]{32}")
FOREVER = "public, max-age=31536000, immutable"


@pytest.fixture
async def client(shared_stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=shared_stack.url, timeout=15) as client:
        yield client


async def logged(read: Callable[[], list[dict[str, Any]]], request_id: str) -> dict[str, Any]:
    """The log record of one request; logs are written just after the response is sent."""
    found: list[dict[str, Any]] = []

    def present() -> bool:
        found[:] = [record for record in read() if record.get("request_id") == request_id]
        return bool(found)

    await until(present, seconds=10)
    return found[0]


def request_id() -> str:
    return f"test-{uuid4().hex}"


async def test_realworld_api_round_trip(client: httpx.AsyncClient) -> None:
    _, token = await register(client)
    auth = {"Authorization": f"Token {token}"}
    title = f"Through the stack {uuid4().hex[:8]}"
    created = await client.post(
        "/api/articles",
        json={"article": {"title": title, "description": "d", "body": "b", "tagList": ["stack"]}},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    slug = created.json()["article"]["slug"]

    listed = await client.get("/api/articles", params={"tag": "stack", "limit": 100})
    assert listed.status_code == 200
    assert slug in [article["slug"] for article in listed.json()["articles"]]
    fetched = await client.get(f"/api/articles/{slug}")
    assert fetched.json()["article"]["title"] == title


async def test_application_errors_pass_through_untouched(client: httpx.AsyncClient) -> None:
    """NGINX only replaces errors it produces itself; the app's own 404 keeps its body."""
    response = await client.get(f"/api/articles/no-such-{uuid4().hex}")
    assert response.status_code == 404
    assert set(response.json()["errors"]) <= {"article", "body", "slug"}


async def test_docs_and_schema_are_proxied(client: httpx.AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "swagger-ui" in docs.text
    asset = await client.get("/docs/assets/swagger-ui.css")
    assert asset.status_code == 200
    assert asset.headers["content-type"].startswith("text/css")
    assert (await client.get("/redoc")).status_code == 200
    schema = await client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert schema.status_code == 200
    assert schema.headers["content-encoding"] == "gzip"
    assert "/api/articles" in schema.json()["paths"]


async def test_landing_page_is_served_by_nginx_alone(
    client: httpx.AsyncClient, shared_stack: RunningStack
) -> None:
    ids = {path: request_id() for path in ("/", "/assets/style.css", "/api/tags")}
    responses = {
        path: await client.get(path, headers={"X-Request-ID": rid}) for path, rid in ids.items()
    }
    assert responses["/"].status_code == 200
    assert "fastboard" in responses["/"].text
    assert responses["/assets/style.css"].status_code == 200
    assert responses["/api/tags"].status_code == 200

    records = {
        path: await logged(partial(nginx_log, shared_stack), rid) for path, rid in ids.items()
    }
    # NGINX records which upstream answered: none for the page and its stylesheet.
    assert records["/"]["upstream_addr"] == ""
    assert records["/assets/style.css"]["upstream_addr"] == ""
    assert records["/api/tags"]["upstream_addr"] == f"unix:{shared_stack.socket}"
    # And the app logged the API call (sent last) but never saw the other two.
    await logged(partial(app_log, shared_stack), ids["/api/tags"])
    seen_by_app = {record["request_id"] for record in app_log(shared_stack)}
    assert ids["/"] not in seen_by_app
    assert ids["/assets/style.css"] not in seen_by_app


async def test_versioned_files_cache_for_good_and_the_rest_revalidates(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/")
    assert page.headers["cache-control"] == "no-cache"
    # index.html names every other file: never cached for good, whatever its URL says.
    assert (await client.get("/index.html?v=3")).headers["cache-control"] == "no-cache"
    for versioned in ("/assets/style.css?v=1", "/vendor/marked.esm.js?v=18.2.1"):
        response = await client.get(versioned)
        assert response.status_code == 200, versioned
        assert response.headers["cache-control"] == FOREVER, versioned
    plain = await client.get("/vendor/purify.es.mjs")
    assert plain.headers["cache-control"] == "no-cache"
    again = await client.get(
        "/vendor/purify.es.mjs", headers={"If-None-Match": plain.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""
    revalidated = await client.get("/settings", headers={"If-None-Match": page.headers["etag"]})
    assert revalidated.status_code == 304


@pytest.mark.parametrize(
    "path",
    [
        "/article/%EC%95%88%EB%85%95-%ED%95%98%EC%84%B8%EC%9A%94",  # /article/안녕-하세요
        "/board/general",
        "/profile/ada.lovelace",
        "/editor/some-slug",
        "/search?q=%ED%95%9C%EA%B5%AD%EC%96%B4",
        "/settings",
        "/no/such/page",
    ],
)
async def test_every_page_is_index_html(client: httpx.AsyncClient, path: str) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html"
    assert page.text == (web_root() / "index.html").read_text()
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["content-security-policy"] == WEB_CSP


@pytest.mark.parametrize(
    "path", ["/assets/nope.js", "/vendor/nope.js", "/app/nope.js", "/robots.txt", "/wp-login.php"]
)
async def test_unknown_files_are_a_404_never_the_page(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert "fastboard" not in response.text


async def test_an_unknown_api_path_is_the_apps_json_404(client: httpx.AsyncClient) -> None:
    for method in ("GET", "POST"):
        response = await client.request(method, "/api/nope")
        assert response.status_code == 404
        assert response.json() == {"errors": {"body": ["Not Found"]}}


@pytest.mark.parametrize("path", ["/vendor/marked.esm.js", "/vendor/purify.es.mjs"])
async def test_module_scripts_are_javascript_and_compressed(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(path, headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/javascript"
    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["vary"] == "Accept-Encoding"
    # httpx decoded it: the body is the file, and the wire carried much less.
    assert response.content == (web_root() / path.removeprefix("/")).read_bytes()
    assert response.num_bytes_downloaded < len(response.content) / 2


async def test_security_headers_on_pages_and_api(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    api = await client.get("/api/tags")
    for response in (page, api):
        # One copy each: NGINX hides the app's own (fastboard/headers.py) and sets its.
        assert response.headers.get_list("x-content-type-options") == ["nosniff"]
        assert response.headers.get_list("x-frame-options") == ["DENY"]
        assert response.headers.get_list("referrer-policy") == ["strict-origin-when-cross-origin"]
        assert "server" not in response.headers or response.headers["server"] == "nginx"
        # HSTS only over TLS (tests/stack/test_nginx_tls.py): a browser ignores it here.
        assert "strict-transport-security" not in response.headers
    assert page.headers["content-security-policy"] == WEB_CSP
    # The app's policy for JSON, which lets an answer do nothing in a browser.
    assert api.headers.get_list("content-security-policy") == [API_CSP]
    # Swagger UI runs inline scripts: /docs carries the app's own policy for it, alone.
    docs = await client.get("/docs")
    assert docs.headers.get_list("content-security-policy") == [DOCS_CSP]


async def test_given_request_id_is_echoed_and_reaches_the_app(
    client: httpx.AsyncClient, shared_stack: RunningStack
) -> None:
    rid = request_id()
    response = await client.get("/api/tags", headers={"X-Request-ID": rid})
    assert response.headers.get_list("x-request-id") == [rid]
    record = await logged(partial(app_log, shared_stack), rid)
    assert record["path"] == "/api/tags"


@pytest.mark.parametrize("sent", [None, "has spaces in it", "x" * 129, "semi;colon"])
async def test_missing_or_unsafe_request_id_is_replaced(
    client: httpx.AsyncClient, shared_stack: RunningStack, sent: str | None
) -> None:
    headers = {} if sent is None else {"X-Request-ID": sent}
    first = await client.get("/api/tags", headers=headers)
    second = await client.get("/api/tags", headers=headers)
    ids = [response.headers.get_list("x-request-id") for response in (first, second)]
    assert all(len(values) == 1 and GENERATED_ID.fullmatch(values[0]) for values in ids)
    assert ids[0] != ids[1]
    # The app works with NGINX's id, not one of its own.
    await logged(partial(app_log, shared_stack), ids[1][0])


async def test_oversized_body_is_refused_by_nginx_as_json(
    client: httpx.AsyncClient, shared_stack: RunningStack
) -> None:
    rid = request_id()
    body = b'{"article": {"body": "' + b"x" * (2 * 1024 * 1024) + b'"}}'
    response = await client.post(
        "/api/articles",
        content=body,
        headers={"Content-Type": "application/json", "X-Request-ID": rid},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"errors": {"body": ["request body is too large (limit: 1 MB)"]}}
    assert response.headers["x-request-id"] == rid
    record = await logged(partial(nginx_log, shared_stack), rid)
    assert record["upstream_addr"] == ""


async def test_client_cannot_forge_its_address(
    client: httpx.AsyncClient, shared_stack: RunningStack
) -> None:
    """NGINX overwrites X-Forwarded-For, and the worker trusts it over the unix socket."""
    rid = request_id()
    await client.get("/api/tags", headers={"X-Request-ID": rid, "X-Forwarded-For": "203.0.113.7"})
    record = await logged(partial(app_log, shared_stack), rid)
    assert record["client"] == "127.0.0.1"


async def test_metrics_are_only_for_the_host_itself(shared_stack: RunningStack) -> None:
    # 127.0.0.2 is a loopback address too, but not the one NGINX allows.
    transport = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
    async with httpx.AsyncClient(base_url=shared_stack.url, transport=transport) as outsider:
        refused = await outsider.get("/metrics")
    assert refused.status_code == 403
    assert refused.json() == {"errors": {"body": ["forbidden"]}}
    async with httpx.AsyncClient(base_url=shared_stack.url) as local:
        allowed = await local.get("/metrics")
    assert allowed.status_code == 200
    assert allowed.headers["content-type"].startswith("text/plain")
    assert "fastboard_http_requests_total" in allowed.text
