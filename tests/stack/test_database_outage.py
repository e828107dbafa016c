"""PostgreSQL disappears and comes back while the stack runs.

The stack reaches the database through a forwarder the test controls, so the outage is
real for the app (connections cut, new ones refused) without touching the machine's
PostgreSQL. The service must degrade to quick 503s, survive a worker restart meanwhile,
and recover on its own.
"""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from tests.stack.conftest import StackFactory, register
from tests.stack.forwarder import TcpForwarder
from tests.stack.processes import children, wait_for_workers

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

# Enough requests that both workers (and every pooled connection) get their turn.
ROUNDS = 8


async def test_database_outage_is_a_quick_503_and_heals_without_restart(
    make_stack: StackFactory, database_forwarder: tuple[TcpForwarder, str]
) -> None:
    forwarder, through_forwarder = database_forwarder
    stack = make_stack(database_url=through_forwarder)
    master = stack.gunicorn.pid
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as client:
        name, token = await register(client)
        auth = {"Authorization": f"Token {token}"}
        for _ in range(ROUNDS):
            assert (await client.get("/api/articles")).status_code == 200

        forwarder.stop()
        for _ in range(ROUNDS):
            ready = await client.get("/ready")
            assert ready.status_code == 503
            assert "database" in ready.json()["errors"]
            # Signed in: never answered from the read cache, so it needs the database.
            articles = await client.get("/api/articles", headers=auth)
            assert articles.status_code == 503, articles.text
            assert "database" in articles.json()["errors"]
            assert articles.headers["content-type"] == "application/json"
            login = await client.post(
                "/api/users/login",
                json={"user": {"email": f"{name}@example.org", "password": "pw-" + name}},
            )
            assert login.status_code == 503, login.text

        # A worker restarts while the database is down: it boots (start-up opens no
        # connection), and the master carries on.
        victim = min(children(master))
        os.kill(victim, signal.SIGTERM)
        await wait_for_workers(master, 2, excluding={victim})
        for _ in range(ROUNDS):
            assert (await client.get("/health")).status_code == 200
            assert (await client.get("/ready")).status_code == 503
        assert stack.gunicorn.poll() is None

        forwarder.start()
        for _ in range(ROUNDS):
            assert (await client.get("/ready")).status_code == 200
            assert (await client.get("/api/articles")).status_code == 200
            user = await client.get("/api/user", headers=auth)
            assert user.status_code == 200
            assert user.json()["user"]["username"] == name

    assert stack.gunicorn.poll() is None
    assert stack.gunicorn.pid == master


async def test_unanswering_database_is_a_503_within_the_connect_timeout(
    make_stack: StackFactory, database_forwarder: tuple[TcpForwarder, str]
) -> None:
    """No request hangs on a database that accepts connections and never answers."""
    forwarder, through_forwarder = database_forwarder
    stack = make_stack(
        database_url=through_forwarder,
        FASTBOARD_DB_CONNECT_TIMEOUT="2",
    )
    async with httpx.AsyncClient(base_url=stack.url, timeout=15) as client:
        assert (await client.get("/api/articles")).status_code == 200
        forwarder.stall()
        # The client's 15 s timeout would fail the test if the app waited any longer.
        ready = await client.get("/ready")
        assert ready.status_code == 503
        # A page nobody asked for yet: not in the read cache, so it needs the database.
        articles = await client.get("/api/articles", params={"offset": 1})
        assert articles.status_code == 503, articles.text
        assert "database" in articles.json()["errors"]

        forwarder.start()
        assert (await client.get("/ready")).status_code == 200
        assert (await client.get("/api/articles")).status_code == 200
