"""The dev server serves the landing page at / from the package's web/ directory (the
same files NGINX serves in production), and every other path keeps its own answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from fastboard.app import create_app
from fastboard.resources import web_root
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio


@pytest.fixture
async def web_client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """No request here reaches the database: an unused SQLite path is enough."""
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path}/unused.db", tmp_path))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_root_is_the_landing_page(web_client: httpx.AsyncClient) -> None:
    page = await web_client.get("/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text == (web_root() / "index.html").read_text()


@pytest.mark.parametrize(
    ("asset", "content_type"),
    [
        ("/assets/style.css", "text/css"),
        ("/app/main.js", "text/javascript"),
        ("/vendor/marked.esm.js", "text/javascript"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ],
)
async def test_the_pages_assets_are_served(
    web_client: httpx.AsyncClient, asset: str, content_type: str
) -> None:
    response = await web_client.get(asset)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(content_type)
    assert response.content == (web_root() / asset.removeprefix("/")).read_bytes()


@pytest.mark.parametrize("path", ["/api/no-such-thing", "/no-such-page", "/assets/missing.css"])
async def test_unknown_paths_are_the_json_404(web_client: httpx.AsyncClient, path: str) -> None:
    response = await web_client.get(path)
    assert response.status_code == 404
    assert response.json() == {"errors": {"body": ["Not Found"]}}


async def test_other_paths_keep_their_own_answers(web_client: httpx.AsyncClient) -> None:
    assert (await web_client.get("/health")).json() == {"status": "ok"}
    assert "swagger-ui" in (await web_client.get("/docs")).text
    assert (await web_client.get("/metrics")).headers["content-type"].startswith("text/plain")
    schema = (await web_client.get("/openapi.json")).json()
    assert "/api/articles" in schema["paths"]
    assert "/" not in schema["paths"]
    assert (await web_client.post("/")).status_code == 405
