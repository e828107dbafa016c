"""Security headers from the app alone (a direct Gunicorn deployment has no NGINX), HSTS
only over TLS, and CORS closed unless origins are configured."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from fastboard.app import DOCS_CSP, create_app
from fastboard.headers import API_CSP, HSTS
from fastboard.settings import Settings
from fastboard.webui import WEB_CSP
from fastboard.worker import TrustedProxyHeaders

pytestmark = pytest.mark.anyio

SECRET = "a-secret-key-for-these-tests-only-0123456789"
AppClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def app_client(tmp_path: Path) -> AppClient:
    """A client for an app built with the given settings (none of these requests reads
    the database). ``proxied``: behind Gunicorn's forwarded-header handling, trusting
    127.0.0.1 only; ``peer``: the client's address."""

    @asynccontextmanager
    async def client(
        *,
        base_url: str = "http://test",
        proxied: bool = False,
        peer: str = "127.0.0.1",
        **overrides: Any,
    ) -> AsyncIterator[httpx.AsyncClient]:
        values: dict[str, Any] = {
            "env": "production",
            "database_url": f"sqlite+aiosqlite:///{tmp_path}/unused.db",
            "var_dir": tmp_path,
            "secret_key": SECRET,
            "migrate_on_start": False,
            **overrides,
        }
        app = create_app(Settings(**values))
        asgi: Any = TrustedProxyHeaders(app, "127.0.0.1") if proxied else app
        transport = httpx.ASGITransport(app=asgi, client=(peer, 50000))
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as http:
            yield http
        await app.state.database.dispose()

    return client


async def _api_answers(http: httpx.AsyncClient) -> list[httpx.Response]:
    """JSON answers of several kinds: success, 401, 404, 405, 422."""
    return [
        await http.get("/health"),
        await http.get("/api/user"),
        await http.get("/api/no-such-thing"),
        await http.delete("/api/tags"),
        await http.post("/api/users/login", json={"user": {}}),
        await http.post("/api/users/login", content=b"{not json"),
    ]


async def test_every_api_answer_carries_the_security_headers(app_client: AppClient) -> None:
    async with app_client() as http:
        answers = await _api_answers(http)
    assert [answer.status_code for answer in answers] == [200, 401, 404, 405, 422, 422]
    for answer in answers:
        headers = answer.headers
        assert headers.get_list("x-content-type-options") == ["nosniff"]
        assert headers.get_list("x-frame-options") == ["DENY"]
        assert headers.get_list("referrer-policy") == ["strict-origin-when-cross-origin"]
        assert headers.get_list("content-security-policy") == [API_CSP]
        # Plain HTTP: a browser ignores HSTS there, and the app does not claim it.
        assert "strict-transport-security" not in headers


async def test_the_answer_to_a_bug_carries_them_too(tmp_path: Path) -> None:
    app = create_app(
        Settings(
            env="production",
            database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db",
            var_dir=tmp_path,
            secret_key=SECRET,
        )
    )

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("a bug")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        answer = await http.get("/boom")
    await app.state.database.dispose()
    assert answer.status_code == 500
    assert answer.json() == {"errors": {"body": ["internal server error"]}}
    assert answer.headers.get_list("content-security-policy") == [API_CSP]
    assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
    assert answer.headers.get_list("x-frame-options") == ["DENY"]


async def test_pages_keep_their_own_policy(app_client: AppClient) -> None:
    async with app_client() as http:
        page = await http.get("/settings")
        docs = await http.get("/docs")
        redoc = await http.get("/redoc")
    assert page.headers.get_list("content-security-policy") == [WEB_CSP]
    assert docs.headers.get_list("content-security-policy") == [DOCS_CSP]
    assert redoc.headers.get_list("content-security-policy") == [DOCS_CSP]
    for answer in (page, docs, redoc):
        assert answer.headers.get_list("x-frame-options") == ["DENY"]
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"]


async def test_hsts_when_the_client_spoke_tls_to_the_app(app_client: AppClient) -> None:
    async with app_client(base_url="https://board.example") as http:
        answers = await _api_answers(http)
        page = await http.get("/")
    for answer in [*answers, page]:
        assert answer.headers.get_list("strict-transport-security") == [HSTS]


async def test_hsts_when_the_trusted_proxy_says_the_client_spoke_tls(
    app_client: AppClient,
) -> None:
    async with app_client(proxied=True, peer="127.0.0.1", base_url="http://test:8000") as http:
        over_tls = await http.get("/health", headers={"X-Forwarded-Proto": "https"})
        plain = await http.get("/health", headers={"X-Forwarded-Proto": "http"})
    assert over_tls.headers["strict-transport-security"] == HSTS
    assert "strict-transport-security" not in plain.headers


async def test_no_hsts_when_an_untrusted_client_claims_tls(app_client: AppClient) -> None:
    """Only the proxy in ``forwarded_allow_ips`` may say how the client connected."""
    # A TCP listener (a port): a unix-socket peer would be trusted as NGINX is.
    async with app_client(proxied=True, peer="203.0.113.9", base_url="http://test:8000") as http:
        answer = await http.get("/health", headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 200
    assert "strict-transport-security" not in answer.headers


async def test_cached_reads_carry_the_headers_too(client: httpx.AsyncClient) -> None:
    """The read cache answers hits innermost, inside the headers' middleware."""
    first = await client.get("/api/tags")
    second = await client.get("/api/tags")  # a hit when Redis is configured
    for answer in (first, second):
        assert answer.status_code == 200
        assert answer.headers["content-security-policy"] == API_CSP
        assert answer.headers["x-content-type-options"] == "nosniff"


ORIGINS = ["https://evil.example", "https://board.example", "http://localhost:4200", "null"]
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


@pytest.mark.parametrize("origin", ORIGINS)
@pytest.mark.parametrize("env", ["production", "test"])
async def test_cors_is_closed_by_default(app_client: AppClient, origin: str, env: str) -> None:
    """No FASTBOARD_CORS_ORIGINS: no origin may read any answer, the credential
    endpoints' included, and no preflight succeeds."""
    async with app_client(env=env) as http:
        headers = {"Origin": origin}
        answers = [
            *(await _answers_with(http, headers)),
            await http.options("/api/users/login", headers={**headers, **PREFLIGHT}),
        ]
    for answer in answers:
        assert "access-control-allow-origin" not in answer.headers, answer.request.url
        assert "access-control-allow-credentials" not in answer.headers
    assert answers[-1].status_code != 200


async def _answers_with(http: httpx.AsyncClient, headers: dict[str, str]) -> list[httpx.Response]:
    return [
        await http.get("/health", headers=headers),
        await http.get("/api/user", headers=headers),
        await http.post("/api/users/login", json={"user": {}}, headers=headers),
    ]


async def test_cors_opens_to_the_configured_origins_only(app_client: AppClient) -> None:
    allowed = "https://board.example"
    async with app_client(cors_origins=[allowed]) as http:
        mine = await _answers_with(http, {"Origin": allowed})
        preflight = await http.options("/api/users/login", headers={"Origin": allowed, **PREFLIGHT})
        others = await _answers_with(http, {"Origin": "https://evil.example"})
        other_preflight = await http.options(
            "/api/users/login", headers={"Origin": "https://evil.example", **PREFLIGHT}
        )
    for answer in [*mine, preflight]:
        assert answer.headers["access-control-allow-origin"] == allowed
    assert preflight.status_code == 200
    for answer in [*others, other_preflight]:
        assert "access-control-allow-origin" not in answer.headers
    assert other_preflight.status_code == 400
