"""Alembic environment: async engine, one code path for SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.pool import ConnectionPoolEntry

from fastboard.db import build_engine
from fastboard.models import Base
from fastboard.search.objects import is_search_object
from fastboard.settings import Settings, get_settings

config = context.config
target_metadata = Base.metadata


def _settings() -> Settings:
    given = config.attributes.get("settings")
    return given if isinstance(given, Settings) else get_settings()


def _described_by_models(name: str | None, kind: str, _parents: Any) -> bool:
    # Search's columns, indexes and FTS5 tables live in migration 0007 alone.
    return not is_search_object(name, kind)


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table.
        render_as_batch=True,
        compare_type=True,
        include_name=_described_by_models,
    )


def run_migrations_offline() -> None:
    _configure(url=_settings().database_url)
    with context.begin_transaction():
        context.run_migrations()


def _foreign_keys_off(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Batch mode rebuilds a SQLite table by copying it and dropping the original; with
    # foreign keys on, that DROP cascades (ON DELETE CASCADE) to every comment, favorite
    # and tag of the articles table. Off while migrating, as Alembic's docs advise, and
    # checked once the migrations ran.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    cursor.close()


def _run_sync(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left rows without their parent: {broken[:5]}")


async def run_migrations_online() -> None:
    settings = _settings()
    engine = build_engine(settings)
    if settings.is_sqlite:
        # After build_engine's own connect hook, which turns them on.
        event.listen(engine.sync_engine, "connect", _foreign_keys_off)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run_sync)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_migrations_online())
