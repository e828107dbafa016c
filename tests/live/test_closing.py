"""An account that may no longer listen loses its open live connections, in every worker:
suspended (4403), deleted, its password changed or signed out everywhere (4401, the tokens
from before spent)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.ext.asyncio import create_async_engine
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from fastboard.users.models import User
from tests.conftest import _empty_all_tables, auth
from tests.live.conftest import LiveApps, quiet, receive, serving
from tests.live.test_live import http_client, register, ws_url
from tests.live.test_replies import signed_in

pytestmark = pytest.mark.anyio


@pytest.fixture
async def two_workers(live_apps: LiveApps) -> tuple[FastAPI, FastAPI]:
    """A reader's worker and a writer's: two apps sharing Redis, or (in-process broker)
    one app twice."""
    reader = live_apps()
    writer = live_apps() if reader.state.settings.redis_url else reader
    await _empty_all_tables(reader)
    for app in {reader, writer}:
        await app.state.database.dispose()
    return reader, writer


@contextmanager
def served(apps: tuple[FastAPI, FastAPI]) -> Iterator[tuple[str, str]]:
    reader, writer = apps
    with serving(reader) as reader_address:
        if writer is reader:
            yield reader_address, reader_address
        else:
            with serving(writer) as writer_address:
                yield reader_address, writer_address


async def promote(app: FastAPI, username: str) -> None:
    # An engine of the test's own: the app's belongs to the server's event loop.
    engine = create_async_engine(app.state.settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(User).where(User.username == username).values(role="admin")
            )
    finally:
        await engine.dispose()


async def closed_code(ws: ClientConnection) -> int:
    with pytest.raises(ConnectionClosed) as closed:
        await receive(ws)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code


async def test_a_suspension_closes_the_users_connections_in_another_worker(
    two_workers: tuple[FastAPI, FastAPI],
) -> None:
    with served(two_workers) as (reader, writer):
        async with (
            http_client(writer) as http,
            connect(ws_url(reader)) as alice_ws,
            connect(ws_url(reader)) as bob_ws,
        ):
            admin = await register(http, "admin")
            await promote(two_workers[0], "admin")
            alice, bob = await register(http, "alice"), await register(http, "bob")
            await signed_in(alice_ws, alice)
            await signed_in(bob_ws, bob)
            until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
            suspended = await http.post(
                "/api/profiles/alice/suspension",
                json={"suspension": {"until": until, "reason": "spam"}},
                headers=auth(admin["token"]),
            )
            code = await closed_code(alice_ws)
            await quiet(bob_ws)  # someone else's stays open

    assert suspended.status_code == 200
    assert code == 4403


async def test_a_password_change_closes_connections_of_the_old_token_only(
    two_workers: tuple[FastAPI, FastAPI],
) -> None:
    with served(two_workers) as (reader, writer):
        async with (
            http_client(writer) as http,
            connect(ws_url(reader)) as old_ws,
            connect(ws_url(reader)) as new_ws,
        ):
            alice = await register(http, "alice")
            await signed_in(old_ws, alice)
            changed = await http.put(
                "/api/user/password",
                json={"user": {"currentPassword": "pw-pw-pw", "newPassword": "new-pw-new-pw"}},
                headers=auth(alice["token"]),
            )
            assert changed.status_code == 200, changed.text
            await signed_in(new_ws, changed.json()["user"])
            code = await closed_code(old_ws)
            # Delivered to both in one go: had it closed the new one, it would be closed now.
            await quiet(new_ws)

    assert code == 4401


async def test_signing_out_everywhere_closes_every_connection_of_the_account(
    two_workers: tuple[FastAPI, FastAPI],
) -> None:
    with served(two_workers) as (reader, writer):
        async with (
            http_client(writer) as http,
            connect(ws_url(reader)) as alice_ws,
            connect(ws_url(reader)) as bob_ws,
        ):
            alice, bob = await register(http, "alice"), await register(http, "bob")
            await signed_in(alice_ws, alice)
            await signed_in(bob_ws, bob)
            out = await http.post("/api/user/logout-all", headers=auth(alice["token"]))
            code = await closed_code(alice_ws)
            await quiet(bob_ws)  # someone else's stays open

    assert out.status_code == 204, out.text
    assert code == 4401


async def test_a_deleted_account_loses_its_connections(
    two_workers: tuple[FastAPI, FastAPI],
) -> None:
    with served(two_workers) as (reader, writer):
        async with http_client(writer) as http, connect(ws_url(reader)) as ws:
            alice = await register(http, "alice")
            await signed_in(ws, alice)
            deleted = await http.request(
                "DELETE",
                "/api/user",
                json={"user": {"password": "pw-pw-pw"}},
                headers=auth(alice["token"]),
            )
            code = await closed_code(ws)

    assert deleted.status_code in (200, 204), deleted.text
    assert code == 4401


async def test_clients_cannot_subscribe_to_the_control_topic(live_server: str) -> None:
    async with connect(ws_url(live_server)) as ws:
        await ws.send('{"type": "subscribe", "topics": ["live:control"]}')
        answer = await receive(ws)

    assert answer["type"] == "error"
    assert answer["message"].startswith("unknown topic 'live:control'")
