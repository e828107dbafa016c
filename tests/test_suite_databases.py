"""The suite's PostgreSQL databases are its own: a run never touches one it did not create."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import (
    POSTGRES_URL,
    create_postgres_database,
    drop_postgres_database,
    suite_database,
)


async def _run(url: str, *statements: str) -> Any:
    """Run statements in one transaction; the last one's scalar result."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                result = await conn.execute(text(statement))
            return result.scalar() if result.returns_rows else None
    finally:
        await engine.dispose()


def test_a_run_leaves_the_database_it_is_pointed_at_alone(tmp_path: Path) -> None:
    """FASTBOARD_TEST_DATABASE_URL naming a database with a user's table in it: the table
    survives, and the database the suite made for itself is gone afterwards."""
    if POSTGRES_URL is None:
        pytest.skip("FASTBOARD_TEST_DATABASE_URL is not set")
    users_database = asyncio.run(create_postgres_database("users_own"))
    try:
        asyncio.run(
            _run(
                users_database, "CREATE TABLE precious (id int)", "INSERT INTO precious VALUES (42)"
            )
        )

        with suite_database(make_url(users_database), tmp_path) as ours:
            assert asyncio.run(_run(ours, "SELECT count(*) FROM alembic_version")) == 1

        assert asyncio.run(_run(users_database, "SELECT id FROM precious")) == 42
        name = make_url(ours).database
        assert name != make_url(users_database).database
        remaining = f"SELECT count(*) FROM pg_database WHERE datname = '{name}'"  # noqa: S608
        assert asyncio.run(_run(users_database, remaining)) == 0
    finally:
        asyncio.run(drop_postgres_database(users_database))
