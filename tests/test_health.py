"""Liveness and readiness, and what clients see while the database is unreachable."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import anyio.to_thread
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from fastboard import health
from fastboard.app import create_app
from fastboard.migrate import upgrade_to_head
from fastboard.settings import Settings
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
    response = await down_client.get("/ready")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "errors": {"database": ["is unreachable"]}}


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
async def test_api_answers_503_when_the_database_is_unreachable(
    down_client: httpx.AsyncClient, method: str, path: str, body: dict[str, object] | None
) -> None:
    response = await down_client.request(method, path, json=body)

    assert response.status_code == 503, response.text
    assert response.json() == {"errors": {"database": ["is unavailable, try again shortly"]}}
    assert response.headers["retry-after"] == "5"


# A database that never answers: each wait below must end on a timeout of the app's own.
# The deadline only keeps a missing timeout from hanging the run (asyncpg's own connect
# timeout is 60 s); what is checked is the answer and why it came.
HANG_GUARD_SECONDS = 30


@pytest.fixture
def silent_database() -> Iterator[str]:
    """A URL whose server accepts the connection (the kernel's backlog does) and then
    says nothing, as a hung or overloaded PostgreSQL does."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"postgresql+asyncpg://postgres@127.0.0.1:{listener.getsockname()[1]}/fastboard"


async def _answer(settings: Settings, method: str, path: str) -> httpx.Response:
    app: FastAPI = create_app(settings)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            with anyio.fail_after(HANG_GUARD_SECONDS):
                return await http.request(method, path)
    finally:
        await app.state.database.dispose()


def _logged_a_timeout(caplog: pytest.LogCaptureFixture) -> bool:
    """Whether the failure the app logged was a timeout (not a refusal, say)."""
    return any(
        isinstance(arg, TimeoutError)
        for record in caplog.records
        if record.levelno == logging.WARNING and isinstance(record.args, tuple)
        for arg in record.args
    )


async def test_ready_gives_up_on_a_silent_database_on_its_own_timeout(
    silent_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The connection would wait longer than the guard: only the probe's timeout can end it.
    monkeypatch.setattr(health, "READY_TIMEOUT_SECONDS", 0.1)
    settings = make_settings(silent_database, tmp_path, db_connect_timeout=10 * HANG_GUARD_SECONDS)

    response = await _answer(settings, "GET", "/ready")

    assert response.status_code == 503
    assert _logged_a_timeout(caplog)


async def test_api_gives_up_on_a_silent_database_after_the_connect_timeout(
    silent_database: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(silent_database, tmp_path, db_connect_timeout=0.1)

    response = await _answer(settings, "GET", "/api/tags")

    assert response.status_code == 503
    assert response.json() == {"errors": {"database": ["is unavailable, try again shortly"]}}
    assert _logged_a_timeout(caplog)


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
