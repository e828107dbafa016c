"""POST /api/user/logout-all: every token of the account is spent, in every worker."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from fastboard.app import create_app
from fastboard.db import utcnow
from fastboard.settings import Settings
from fastboard.users.models import User
from tests.conftest import auth, register

pytestmark = pytest.mark.anyio

PASSWORD = "correct-horse"


async def _login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> str:
    response = await client.post(
        "/api/users/login", json={"user": {"email": email, "password": password}}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["user"]["token"]
    return token


async def test_every_token_of_the_account_is_spent(client: httpx.AsyncClient) -> None:
    alice = await register(client, "alice")
    bob = await register(client, "bob")
    laptop = alice["token"]
    phone = await _login(client, "alice@example.com")

    out = await client.post("/api/user/logout-all", headers=auth(phone))

    assert out.status_code == 204
    assert out.content == b""
    for token in (laptop, phone):
        refused = await client.get("/api/user", headers=auth(token))
        assert refused.status_code == 401
        assert refused.json() == {"errors": {"token": ["token is invalid or has expired"]}}
    # Someone else's tokens are theirs.
    assert (await client.get("/api/user", headers=auth(bob["token"]))).status_code == 200
    # Signing in again gives a token that works.
    again = await _login(client, "alice@example.com")
    assert (await client.get("/api/user", headers=auth(again))).status_code == 200
    # The spent token cannot sign out the new one.
    assert (await client.post("/api/user/logout-all", headers=auth(laptop))).status_code == 401
    assert (await client.get("/api/user", headers=auth(again))).status_code == 200


async def test_it_needs_a_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/user/logout-all")
    assert response.status_code == 401
    assert response.json() == {"errors": {"token": ["missing authorization credentials"]}}


async def test_a_suspended_user_may_sign_out_everywhere(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    alice = await register(client, "alice")
    async with app.state.database.writer() as session:
        await session.execute(
            update(User)
            .where(User.username == "alice")
            .values(suspended_until=utcnow() + timedelta(days=1))
        )
        await session.commit()

    out = await client.post("/api/user/logout-all", headers=auth(alice["token"]))

    assert out.status_code == 204
    assert (await client.get("/api/user", headers=auth(alice["token"]))).status_code == 401


@pytest.fixture
async def other_worker(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another process's app on the same database: its own token cache, its own pool."""
    other = create_app(settings)
    transport = httpx.ASGITransport(app=other)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
            yield http
    finally:
        await other.state.read_cache.close()
        await other.state.live.close()
        await other.state.database.dispose()


@pytest.mark.own_app
async def test_another_worker_refuses_the_spent_tokens_too(
    client: httpx.AsyncClient, other_worker: httpx.AsyncClient
) -> None:
    alice = await register(client, "alice")
    # The other worker has verified the token (and remembers it as verified).
    assert (await other_worker.get("/api/user", headers=auth(alice["token"]))).status_code == 200

    out = await client.post("/api/user/logout-all", headers=auth(alice["token"]))

    assert out.status_code == 204
    assert (await other_worker.get("/api/user", headers=auth(alice["token"]))).status_code == 401
    # Writes are refused as reads are, with the list's own check of the version too.
    article = {"article": {"title": "t", "description": "d", "body": "b"}}
    written = await other_worker.post("/api/articles", json=article, headers=auth(alice["token"]))
    assert written.status_code == 401
    listed = await other_worker.get("/api/articles", headers=auth(alice["token"]))
    assert listed.status_code == 401
