"""The connection pool: what happens to pooled connections the server has closed."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import create_async_engine

pytestmark = pytest.mark.anyio


async def _terminate_app_connections(url: str) -> int:
    """Close the app's server-side connections, as a PostgreSQL restart would."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE application_name = 'fastboard' AND datname = current_database()"
                    " AND pid <> pg_backend_pid()"
                )
            )
    finally:
        await engine.dispose()
    return int(killed or 0)


async def test_a_connection_the_server_closed_is_replaced_not_handed_out(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    database = app.state.database
    if database.settings.is_sqlite:
        pytest.skip("SQLite has no server to close connections")
    assert (await client.get("/api/articles")).status_code == 200
    assert database.pool_status()["checkedin"] >= 1

    assert await _terminate_app_connections(database.settings.database_url) >= 1
    await asyncio.sleep(0.2)  # let the event loop read the server's goodbye

    opened: list[object] = []
    event.listen(database.sync_engine, "connect", lambda *args: opened.append(args))
    # Distinct pages: each one a database read, whatever the read cache holds.
    responses = [await client.get("/api/articles", params={"offset": n}) for n in range(3)]

    assert [response.status_code for response in responses] == [200, 200, 200]
    assert len(opened) == 1  # one fresh connection, reused afterwards
