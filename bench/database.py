"""The benchmark's own PostgreSQL database: dropped, created and migrated when (re)seeding."""

from __future__ import annotations

import re

import asyncpg  # type: ignore[import-untyped]
from alembic.script import ScriptDirectory

from fastboard.migrate import alembic_config, upgrade_to_head
from fastboard.settings import Settings

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
SEEDED_TABLES = (
    "users", "articles", "tags", "article_tags", "follows", "favorites", "comments",
)  # fmt: skip


def checked_name(name: str) -> str:
    # The name goes into DDL, which cannot take it as a bind parameter.
    if not _NAME.match(name):
        raise ValueError(f"unsafe database name {name!r}")
    return name


def app_url(*, host: str, port: int, user: str, name: str) -> str:
    """The SQLAlchemy URL the servers under test use."""
    return f"postgresql+asyncpg://{user}@{host}:{port}/{checked_name(name)}"


def _dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def recreate(*, host: str, port: int, user: str, name: str) -> None:
    conn = await asyncpg.connect(host=host, port=port, user=user, database="postgres", timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{checked_name(name)}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def migrate(settings: Settings) -> None:
    """Alembic to head, as ``fastboard migrate`` does in production. Blocking."""
    upgrade_to_head(settings)


def head_revision(settings: Settings) -> str:
    return str(ScriptDirectory.from_config(alembic_config(settings)).get_current_head())


async def describe(url: str) -> tuple[str, dict[str, int]] | None:
    """The schema revision and row counts of the seeded tables; None when unreachable."""
    try:
        conn = await asyncpg.connect(_dsn(url), timeout=5)
    except (OSError, asyncpg.PostgresError):
        return None
    try:
        revision = str(await conn.fetchval("SELECT version_num FROM alembic_version"))
        counts = {
            table: int(await conn.fetchval(f"SELECT count(*) FROM {table}"))  # noqa: S608
            for table in SEEDED_TABLES
        }
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    return revision, counts


async def analyze(url: str) -> None:
    """Fresh planner statistics after a bulk load, as autovacuum would give them later."""
    conn = await asyncpg.connect(_dsn(url), timeout=5)
    try:
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def server_version(url: str) -> str:
    conn = await asyncpg.connect(_dsn(url), timeout=5)
    try:
        return str(await conn.fetchval("SHOW server_version"))
    finally:
        await conn.close()
