"""Migration 0007 on a database that already holds articles and comments: they are
searchable once ``fastboard migrate`` has run, rows written afterwards too, and the
downgrade removes every search object and leaves the rows."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx
import pytest
from alembic import command
from sqlalchemy import text

from fastboard.app import create_app
from fastboard.db import build_engine
from fastboard.migrate import alembic_config, upgrade_to_head
from fastboard.security import create_token
from fastboard.settings import Settings
from tests.conftest import BACKENDS, auth, create_postgres_database, drop_postgres_database
from tests.conftest import make_settings as settings_for

pytestmark = pytest.mark.anyio

NOW = {"now": datetime(2026, 1, 1, tzinfo=UTC)}


@pytest.fixture(params=BACKENDS)
async def fresh_settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    if request.param == "sqlite":
        yield settings_for(f"sqlite+aiosqlite:///{tmp_path}/fresh.db", tmp_path)
        return
    url = await create_postgres_database("searchmig")
    try:
        yield settings_for(url, tmp_path)
    finally:
        await drop_postgres_database(url)


async def _sql(settings: Settings, statement: str, params: dict[str, Any] | None = None) -> Any:
    engine = build_engine(settings)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(text(statement), params or {})
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


async def _search_objects(settings: Settings) -> set[str]:
    if settings.is_sqlite:
        rows = await _sql(
            settings,
            "SELECT name FROM sqlite_master WHERE name LIKE '%search%'",
        )
    else:
        rows = await _sql(
            settings,
            "SELECT column_name FROM information_schema.columns"
            " WHERE column_name = 'search_vector'"
            " UNION ALL SELECT indexname FROM pg_indexes"
            " WHERE indexname LIKE '%search_vector' OR indexname LIKE '%trgm'",
        )
    return {name for (name,) in rows}


async def _populate_at_0005(settings: Settings) -> None:
    await anyio.to_thread.run_sync(lambda: command.upgrade(alembic_config(settings), "0005"))
    for statement in (
        "INSERT INTO users (id, username, email, password_hash, bio, created_at, updated_at)"
        " VALUES (1, 'ann', 'ann@example.com', 'x', '', :now, :now)",
        "INSERT INTO articles (id, slug, title, description, body, author_id, board_id,"
        " favorites_count, created_at, updated_at) VALUES (1, 'setup', '설치 안내', 'd',"
        " '먼저 서버를 설치합니다', 1, (SELECT id FROM boards WHERE slug = 'general'), 0,"
        " :now, :now)",
        "INSERT INTO articles (id, slug, title, description, body, author_id, board_id,"
        " favorites_count, created_at, updated_at) VALUES (2, 'other', 'Other', 'd',"
        " 'nothing here', 1, (SELECT id FROM boards WHERE slug = 'general'), 0, :now, :now)",
        "INSERT INTO comments (id, article_id, author_id, body, created_at, updated_at)"
        " VALUES (1, 2, 1, 'an old comment about zeppelins', :now, :now)",
    ):
        await _sql(settings, statement, NOW)


async def _search(settings: Settings, q: str) -> dict[str, Any]:
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/api/search", params={"q": q})
    finally:
        await app.state.database.dispose()
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


async def test_rows_written_before_the_migration_are_searchable(fresh_settings: Settings) -> None:
    await _populate_at_0005(fresh_settings)

    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)

    korean = await _search(fresh_settings, "서버")
    comments = await _search(fresh_settings, "zeppelin")
    assert [article["slug"] for article in korean["articles"]] == ["setup"]
    assert [comment["id"] for comment in comments["comments"]] == [1]
    assert comments["comments"][0]["article"] == {"slug": "other", "title": "Other"}


async def test_rows_written_after_the_migration_are_searchable(fresh_settings: Settings) -> None:
    await _populate_at_0005(fresh_settings)
    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)
    app = create_app(fresh_settings)
    transport = httpx.ASGITransport(app=app)
    token = create_token(1, fresh_settings)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            article = {"title": "New", "description": "d", "body": "a fresh dirigible"}
            created = await client.post(
                "/api/articles", json={"article": article}, headers=auth(token)
            )
            assert created.status_code == 201, created.text
            edited = await client.put(
                "/api/articles/setup",
                json={"article": {"body": "now about airships"}},
                headers=auth(token),
            )
            assert edited.status_code == 200, edited.text
    finally:
        await app.state.database.dispose()

    assert [a["slug"] for a in (await _search(fresh_settings, "dirigible"))["articles"]] == [
        created.json()["article"]["slug"]
    ]
    assert (await _search(fresh_settings, "서버"))["articles"] == []
    assert [a["slug"] for a in (await _search(fresh_settings, "airships"))["articles"]] == ["setup"]


async def test_downgrade_removes_the_search_objects_and_keeps_the_rows(
    fresh_settings: Settings,
) -> None:
    await _populate_at_0005(fresh_settings)
    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)
    assert len(await _search_objects(fresh_settings)) >= 4

    await anyio.to_thread.run_sync(
        lambda: command.downgrade(alembic_config(fresh_settings), "0005")
    )

    assert await _search_objects(fresh_settings) == set()
    assert await _sql(fresh_settings, "SELECT count(*) FROM articles") == [(2,)]
    assert await _sql(fresh_settings, "SELECT count(*) FROM comments") == [(1,)]
    # And up again: the index is rebuilt from the rows.
    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)
    assert [a["slug"] for a in (await _search(fresh_settings, "서버"))["articles"]] == ["setup"]
