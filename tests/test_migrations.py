"""Alembic: upgrade, downgrade and upgrade again on a fresh database, and the migrated schema
matches the models (what ``alembic check`` verifies)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio.to_thread
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, func, inspect, select, text
from sqlalchemy.exc import IntegrityError

from fastboard.db import build_engine
from fastboard.migrate import alembic_config, downgrade_to_base, upgrade_to_head
from fastboard.models import Base
from fastboard.search.objects import is_search_object, is_search_table
from fastboard.settings import Settings
from tests.conftest import (
    BACKENDS,
    create_postgres_database,
    drop_postgres_database,
    make_settings,
)

pytestmark = pytest.mark.anyio

MODEL_TABLES = set(Base.metadata.tables)
# What 0004 puts in an empty database: the default category and board.
SEEDED = {"categories": 1, "boards": 1}


@pytest.fixture(params=BACKENDS)
async def fresh_settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    """Settings for a brand-new, empty database of each backend (dropped afterwards)."""
    if request.param == "sqlite":
        yield make_settings(f"sqlite+aiosqlite:///{tmp_path}/fresh.db", tmp_path)
        return
    url = await create_postgres_database("migtest")
    try:
        yield make_settings(url, tmp_path)
    finally:
        await drop_postgres_database(url)


def _described_by_models(name: str | None, kind: str, _parents: Any) -> bool:
    return not is_search_object(name, kind)


async def _inspect(settings: Settings) -> dict[str, Any]:
    """Tables, and the differences between the migrated schema and the models."""

    def look(conn: Connection) -> dict[str, Any]:
        # Search's objects are migration 0007's alone, as in fastboard/migrations/env.py.
        opts = {"compare_type": True, "include_name": _described_by_models}
        context = MigrationContext.configure(conn, opts=opts)
        tables = {name for name in inspect(conn).get_table_names() if not is_search_table(name)}
        rows = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
            if table.name in tables
        }
        return {
            "rows": rows,
            "tables": tables,
            "revision": context.get_current_revision(),
            "diff": compare_metadata(context, Base.metadata),
        }

    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(look)
    finally:
        await engine.dispose()


def _head(settings: Settings) -> str:
    heads = ScriptDirectory.from_config(alembic_config(settings)).get_heads()
    assert len(heads) == 1, heads
    return heads[0]


async def test_upgrade_downgrade_upgrade_on_a_fresh_database(fresh_settings: Settings) -> None:
    head = _head(fresh_settings)

    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)
    upgraded = await _inspect(fresh_settings)
    await anyio.to_thread.run_sync(downgrade_to_base, fresh_settings)
    downgraded = await _inspect(fresh_settings)
    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)
    again = await _inspect(fresh_settings)

    assert upgraded["tables"] == MODEL_TABLES | {"alembic_version"}
    # An empty database gets the default board, and nothing else (no counter rows).
    assert {table: n for table, n in upgraded["rows"].items() if n} == SEEDED
    assert upgraded["revision"] == head
    assert downgraded["tables"] <= {"alembic_version"}
    assert downgraded["revision"] is None
    assert again["tables"] == upgraded["tables"]
    assert again["revision"] == head
    assert again["diff"] == []


async def test_migrated_schema_matches_the_models(fresh_settings: Settings) -> None:
    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)

    state = await _inspect(fresh_settings)

    assert state["diff"] == [], (
        "models changed without a migration (alembic revision --autogenerate)"
    )


async def test_upgrade_to_head_twice_is_a_no_op(fresh_settings: Settings) -> None:
    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)
    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)

    state = await _inspect(fresh_settings)

    assert state["revision"] == _head(fresh_settings)
    assert state["diff"] == []


def test_migration_history_is_linear(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/unused.db", tmp_path)
    script = ScriptDirectory.from_config(alembic_config(settings))

    revisions = list(script.walk_revisions())

    assert len(script.get_heads()) == 1
    assert len(script.get_bases()) == 1
    assert all(not revision.is_merge_point for revision in revisions)


def test_importing_the_app_loads_no_alembic() -> None:
    """Each Gunicorn worker imports the app; Alembic, loaded only to migrate, would greet
    every one of them with its plugin announcements."""
    probe = "import sys, fastboard.app; print(sorted(m for m in sys.modules if 'alembic' in m))"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"


async def _sql(settings: Settings, *statements: tuple[str, dict[str, Any]]) -> list[Any]:
    """Run ``statements`` (SQL, parameters) in one transaction; the rows of the last one."""
    engine = build_engine(settings)
    try:
        async with engine.begin() as conn:
            for statement, params in statements:
                result = await conn.execute(text(statement), params)
            return [tuple(row) for row in result.all()] if result.returns_rows else []
    finally:
        await engine.dispose()


def _upgrade_to(settings: Settings, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(settings), revision)


async def test_0002_counts_the_articles_already_there(fresh_settings: Settings) -> None:
    await anyio.to_thread.run_sync(_upgrade_to, fresh_settings, "0001")
    now = {"now": datetime(2026, 1, 1, tzinfo=UTC)}
    await _sql(
        fresh_settings,
        (
            "INSERT INTO users (id, username, email, password_hash, bio, created_at, updated_at)"
            " VALUES (1, 'ann', 'ann@example.com', 'x', '', :now, :now)",
            now,
        ),
        *(
            (
                "INSERT INTO articles (id, slug, title, description, body, author_id,"
                " favorites_count, created_at, updated_at)"
                " VALUES (:id, :slug, 't', 'd', 'b', 1, 0, :now, :now)",
                {**now, "id": n, "slug": f"a{n}"},
            )
            for n in (1, 2, 3)
        ),
        ("INSERT INTO tags (id, name) VALUES (1, 'common'), (2, 'rare'), (3, 'unused')", {}),
        ("INSERT INTO article_tags VALUES (1, 1), (2, 1), (3, 1), (3, 2)", {}),
    )

    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)

    tags = await _sql(fresh_settings, ("SELECT name, articles_count FROM tags ORDER BY name", {}))
    totals = await _sql(fresh_settings, ("SELECT scope, articles FROM article_counts", {}))
    assert tags == [("common", 3), ("rare", 1), ("unused", 0)]
    assert totals == [("all", 3)]
    assert (await _inspect(fresh_settings))["diff"] == []


async def test_0004_puts_the_articles_already_there_on_the_general_board(
    fresh_settings: Settings,
) -> None:
    await anyio.to_thread.run_sync(_upgrade_to, fresh_settings, "0003")
    now = {"now": datetime(2026, 1, 1, tzinfo=UTC)}
    await _sql(
        fresh_settings,
        (
            "INSERT INTO users (id, username, email, password_hash, bio, created_at, updated_at)"
            " VALUES (1, 'ann', 'ann@example.com', 'x', '', :now, :now)",
            now,
        ),
        *(
            (
                "INSERT INTO articles (id, slug, title, description, body, author_id,"
                " favorites_count, created_at, updated_at)"
                " VALUES (:id, :slug, 't', 'd', 'b', 1, 0, :now, :now)",
                {**now, "id": n, "slug": f"a{n}"},
            )
            for n in (1, 2, 3, 4)
        ),
        ("INSERT INTO article_counts (scope, articles) VALUES ('all', 4)", {}),
    )

    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)

    boards = await _sql(
        fresh_settings,
        (
            "SELECT c.slug, c.position, b.slug, b.position, b.archived, b.articles_count"
            " FROM boards b JOIN categories c ON c.id = b.category_id",
            {},
        ),
    )
    placed = await _sql(
        fresh_settings,
        (
            "SELECT b.slug, count(*) FROM articles a JOIN boards b ON b.id = a.board_id"
            " GROUP BY b.slug",
            {},
        ),
    )
    assert boards == [("community", 1, "general", 1, False, 4)]
    assert placed == [("general", 4)]
    assert (await _inspect(fresh_settings))["diff"] == []
    # And back: 0003's schema, the articles still there.
    await anyio.to_thread.run_sync(_downgrade_to, fresh_settings, "0003")
    assert await _sql(fresh_settings, ("SELECT count(*) FROM articles", {})) == [(4,)]


def _downgrade_to(settings: Settings, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(settings), revision)


async def test_0005_migrates_a_populated_database(fresh_settings: Settings) -> None:
    """From 0003 (roles, suspensions) with data in it to the newest schema: every row
    stays, no article is locked, the log starts empty, and the API's rules hold."""
    await anyio.to_thread.run_sync(_upgrade_to, fresh_settings, "0003")
    now = {"now": datetime(2026, 1, 1, tzinfo=UTC)}
    await _sql(
        fresh_settings,
        *(
            (
                "INSERT INTO users (id, username, email, password_hash, bio, created_at,"
                " updated_at, role, token_version)"
                " VALUES (:id, :name, :email, 'x', '', :now, :now, :role, :version)",
                {
                    **now,
                    "id": n,
                    "name": name,
                    "email": f"{name}@example.com",
                    "role": role,
                    "version": n,
                },
            )
            for n, name, role in [(1, "ann", "admin"), (2, "ben", "moderator"), (3, "cy", "user")]
        ),
        (
            "INSERT INTO articles (id, slug, title, description, body, author_id,"
            " favorites_count, created_at, updated_at)"
            " VALUES (1, 'a1', 't', 'd', 'b', 3, 1, :now, :now)",
            now,
        ),
        (
            "INSERT INTO comments (id, article_id, author_id, body, created_at, updated_at)"
            " VALUES (1, 1, 2, 'c', :now, :now)",
            now,
        ),
        ("INSERT INTO favorites (user_id, article_id, created_at) VALUES (1, 1, :now)", now),
    )

    await anyio.to_thread.run_sync(upgrade_to_head, fresh_settings)

    users = await _sql(
        fresh_settings, ("SELECT username, role, token_version FROM users ORDER BY id", {})
    )
    articles = await _sql(
        fresh_settings, ("SELECT slug, author_id, favorites_count, locked_at FROM articles", {})
    )
    comments = await _sql(fresh_settings, ("SELECT body, author_id FROM comments", {}))
    log = await _sql(fresh_settings, ("SELECT count(*) FROM moderation_log", {}))
    assert users == [("ann", "admin", 1), ("ben", "moderator", 2), ("cy", "user", 3)]
    assert articles == [("a1", 3, 1, None)]
    assert comments == [("c", 2)]
    assert log == [(0,)]
    state = await _inspect(fresh_settings)
    assert state["diff"] == []
    assert state["revision"] == _head(fresh_settings)
    # The log's constraints came along: an action it does not know is refused.
    with pytest.raises(IntegrityError):
        await _sql(
            fresh_settings,
            (
                "INSERT INTO moderation_log (created_at, moderator, action, target_type, target)"
                " VALUES (:now, 'ann', 'launch_rockets', 'user', 'cy')",
                now,
            ),
        )
