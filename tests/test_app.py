"""What create_app() sets up around the routes: CORS by environment, the docs pages' policy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from fastboard.app import create_app
from fastboard.settings import Settings

pytestmark = pytest.mark.anyio

SECRET = "a-secret-key-for-these-tests-only-0123456789"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}

AppClient = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def app_client(tmp_path: Path) -> AppClient:
    """A client for an app built with the given settings; none of these requests needs
    the database."""

    @asynccontextmanager
    async def client(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        values: dict[str, Any] = {
            "database_url": f"sqlite+aiosqlite:///{tmp_path}/unused.db",
            "var_dir": tmp_path,
            "secret_key": SECRET,
            "migrate_on_start": False,
            **overrides,
        }
        app = create_app(Settings(**values))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
        await app.state.database.dispose()

    return client


async def preflight(http: httpx.AsyncClient, origin: str) -> httpx.Response:
    return await http.options("/api/articles", headers={"Origin": origin, **PREFLIGHT})


@pytest.mark.parametrize(
    "origin",
    ["http://localhost:4200", "http://127.0.0.1:3000", "http://[::1]:5173", "http://localhost"],
)
async def test_development_lets_a_local_frontend_call_the_api(
    app_client: AppClient, origin: str
) -> None:
    async with app_client(env="development") as http:
        allowed = await preflight(http, origin)
        simple = await http.get("/health", headers={"Origin": origin})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == origin
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert simple.status_code == 200
    assert simple.headers["access-control-allow-origin"] == origin


@pytest.mark.parametrize(
    "origin", ["http://localhost.evil.example", "http://evil.example", "http://localhost:4200.evil"]
)
async def test_development_refuses_other_origins(app_client: AppClient, origin: str) -> None:
    async with app_client(env="development") as http:
        refused = await preflight(http, origin)
        simple = await http.get("/health", headers={"Origin": origin})

    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize("env", ["production", "test"])
async def test_outside_development_cors_is_closed_unless_configured(
    app_client: AppClient, env: str
) -> None:
    async with app_client(env=env) as http:
        refused = await preflight(http, "http://localhost:4200")
        simple = await http.get("/health", headers={"Origin": "http://localhost:4200"})

    assert refused.status_code == 405
    assert "access-control-allow-origin" not in refused.headers
    assert simple.status_code == 200
    assert "access-control-allow-origin" not in simple.headers


async def test_production_allows_the_origins_it_is_given(app_client: AppClient) -> None:
    origin = "https://board.example"
    async with app_client(env="production", cors_origins=[origin]) as http:
        allowed = await preflight(http, origin)
        local = await preflight(http, "http://localhost:4200")
        simple = await http.get("/health", headers={"Origin": origin})

    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == origin
    assert simple.headers["access-control-allow-origin"] == origin
    assert local.status_code == 400


def csp(response: httpx.Response) -> dict[str, list[str]]:
    directives = (d.split() for d in response.headers["content-security-policy"].split(";"))
    return {name: sources for name, *sources in directives}


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_docs_pages_may_load_nothing_from_another_host(
    app_client: AppClient, page: str
) -> None:
    """ReDoc's bundle names a logo on a CDN; the browser must not fetch it."""
    async with app_client(env="production") as http:
        response = await http.get(page)

    assert response.status_code == 200
    policy = csp(response)
    assert policy["default-src"] == ["'self'"]
    # Every source is this origin or inline data: no host anywhere.
    allowed = {"'self'", "'unsafe-inline'", "'unsafe-eval'", "data:", "blob:"}
    assert {source for sources in policy.values() for source in sources} <= allowed


async def test_swagger_ui_shows_no_validator_badge(app_client: AppClient) -> None:
    async with app_client(env="production") as http:
        html = (await http.get("/docs")).text

    assert '"validatorUrl": null' in html
