"""Liveness and readiness, and what clients see while the database is unreachable."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from fastboard.app import create_app
from fastboard.migrate import upgrade_to_head
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

# Nothing listens on port 1, so connecting is refused at once; ".invalid" never resolves.
UNREACHABLE = {
    "refused": "postgresql+asyncpg://postgres@127.0.0.1:1/fastboard",
    "unresolvable": "postgresql+asyncpg://postgres@db.invalid:5432/fastboard",
}


@pytest.fixture(params=sorted(UNREACHABLE))
async def down_client(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    """A client for an app whose database cannot be reached."""
    settings = make_settings(
        UNREACHABLE[request.param], tmp_path, db_connect_timeout=1, db_pool_timeout=1
    )
    app: FastAPI = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await app.state.database.dispose()


async def test_health_is_200(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_is_200_when_the_database_answers(client: httpx.AsyncClient) -> None:
    response = await client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_health_is_200_even_when_the_database_is_down(
    down_client: httpx.AsyncClient,
) -> None:
    response = await down_client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_ready_is_503_when_the_database_is_unreachable(
    down_client: httpx.AsyncClient,
) -> None:
    started = time.monotonic()
    response = await down_client.get("/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "errors": {"database": ["is unreachable"]}}
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/profiles/alice", None),
        ("GET", "/api/tags", None),
        (
            "POST",
            "/api/users/login",
            {"user": {"email": "alice@example.com", "password": "correct-horse"}},
        ),
    ],
)
async def test_api_answers_503_quickly_when_the_database_is_unreachable(
    down_client: httpx.AsyncClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    started = time.monotonic()
    response = await down_client.request(method, path, json=body)

    assert response.status_code == 503, response.text
    assert response.json() == {"errors": {"database": ["is unavailable, try again shortly"]}}
    assert response.headers["retry-after"] == "5"
    assert time.monotonic() - started < 5


async def test_validation_still_answers_422_while_the_database_is_down(
    down_client: httpx.AsyncClient,
) -> None:
    """Bad input is refused before any query, so the client learns what to fix."""
    response = await down_client.post("/api/users", json={"user": {"username": "a b"}})

    assert response.status_code == 422
    assert set(response.json()["errors"]) == {"username", "email", "password"}


# Readiness includes the schema: an unmigrated database fails every API call.


async def test_ready_is_503_naming_the_migration_until_the_schema_is_at_head(
    tmp_path: Path,
) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/fresh.db", tmp_path)
    app: FastAPI = create_app(settings)
    statements: list[str] = []

    def record(*args: Any) -> None:
        statements.append(str(args[2]))

    event.listen(app.state.database.sync_engine, "before_cursor_execute", record)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        unmigrated = await http.get("/ready")
        await anyio.to_thread.run_sync(upgrade_to_head, settings)
        migrated = await http.get("/ready")
        statements.clear()
        again = await http.get("/ready")
    await app.state.database.dispose()

    assert unmigrated.status_code == 503
    assert unmigrated.json()["status"] == "unavailable"
    [reason] = unmigrated.json()["errors"]["migrations"]
    assert reason.startswith("database at none, code expects ")
    assert reason.endswith("run `fastboard migrate`")
    assert migrated.status_code == again.status_code == 200
    assert migrated.json() == again.json() == {"status": "ok"}
    # Once at head, the schema is not read again: readiness is a ping.
    assert "SELECT 1" in statements
    assert not any("alembic_version" in statement for statement in statements)
