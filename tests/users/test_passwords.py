"""Password hashing in requests: no database connection held while Argon2 runs, a bounded
number of hashes at once per worker, and old hashes upgraded at login.

The hasher is replaced by a probe that looks at the database and the other hashes at the
moment each hash or verification runs, in its worker thread. Every test here needs a real
connection pool (and on SQLite a real file lock) shared by nothing but the app under test:
under a conftest that runs each test in one rolled-back connection, mark them ``own_app``.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

import httpx
import pytest
from argon2 import extract_parameters
from fastapi import FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import update

from fastboard import security
from fastboard.app import create_app
from fastboard.db import Database, sqlite_file
from fastboard.settings import Settings
from fastboard.users import repository
from fastboard.users.models import User
from tests.conftest import auth, register
from tests.users.conftest import StoredUser

pytestmark = pytest.mark.anyio

PASSWORD = "correct-horse"
T = TypeVar("T")
BAD_CREDENTIALS = {"errors": {"credentials": ["email or password is invalid"]}}


class Probe:
    """Stands in for the password hasher: runs ``during`` around each hash or verification,
    in the hashing thread, and the real hasher inside it."""

    def __init__(
        self, inner: PasswordHash, during: Callable[[], AbstractContextManager[None]]
    ) -> None:
        self.inner = inner
        self.during = during

    def hash(self, password: str) -> str:
        with self.during():
            return self.inner.hash(password)

    def verify(self, password: str, password_hash: str) -> bool:
        with self.during():
            return self.inner.verify(password, password_hash)

    def verify_and_update(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        with self.during():
            return self.inner.verify_and_update(password, password_hash)


def install(monkeypatch: pytest.MonkeyPatch, during: Callable[[], Iterator[None]]) -> None:
    probe = Probe(security._hasher, contextmanager(during))
    monkeypatch.setattr(security, "_hasher", probe)


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post(
        "/api/users/login", json={"user": {"email": email, "password": password}}
    )


async def _login(client: httpx.AsyncClient) -> httpx.Response:
    return await login(client, "alice@example.com")


async def _wrong_password(client: httpx.AsyncClient) -> httpx.Response:
    return await login(client, "alice@example.com", "wrong-horse")


async def _unknown_email(client: httpx.AsyncClient) -> httpx.Response:
    return await login(client, "nobody@example.com")


async def _token_endpoint(client: httpx.AsyncClient) -> httpx.Response:
    form = {"username": "alice@example.com", "password": PASSWORD}
    return await client.post("/api/users/token", data=form)


async def _register(client: httpx.AsyncClient) -> httpx.Response:
    user = {"username": "bob", "email": "bob@example.com", "password": PASSWORD}
    return await client.post("/api/users", json={"user": user})


async def _change_password(client: httpx.AsyncClient, token: str) -> httpx.Response:
    body = {"user": {"password": "battery-staple", "bio": "new"}}
    return await client.put("/api/user", json=body, headers=auth(token))


async def _password_endpoint(client: httpx.AsyncClient, token: str) -> httpx.Response:
    body = {"user": {"currentPassword": PASSWORD, "newPassword": "battery-staple"}}
    return await client.put("/api/user/password", json=body, headers=auth(token))


async def _delete_account(client: httpx.AsyncClient, token: str) -> httpx.Response:
    body = {"user": {"password": PASSWORD}}
    return await client.request("DELETE", "/api/user", json=body, headers=auth(token))


Request = Callable[[httpx.AsyncClient, str], Awaitable[httpx.Response]]
REQUESTS: dict[str, tuple[Request, int]] = {
    "login": (lambda client, _token: _login(client), 200),
    "wrong-password": (lambda client, _token: _wrong_password(client), 401),
    "unknown-email": (lambda client, _token: _unknown_email(client), 401),
    "token-endpoint": (lambda client, _token: _token_endpoint(client), 200),
    "registration": (lambda client, _token: _register(client), 201),
    "password-change": (_change_password, 200),
    "password-endpoint": (_password_endpoint, 200),
    "account-deletion": (_delete_account, 204),
}


# No connection while hashing ------------------------------------------------------------


async def seen_while_hashing(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch, name: str, look: Callable[[], T]
) -> list[T]:
    """Send request ``name`` (with alice registered) and return what ``look`` answered at
    each hash or verification it made."""
    alice = await register(client, "alice", password=PASSWORD)
    seen: list[T] = []

    def during() -> Iterator[None]:
        seen.append(look())
        yield

    install(monkeypatch, during)
    send, status = REQUESTS[name]

    response = await send(client, alice["token"])

    assert response.status_code == status, response.text
    assert seen
    return seen


@pytest.mark.own_app
@pytest.mark.parametrize("name", list(REQUESTS))
async def test_no_pooled_connection_is_held_while_a_password_hashes(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Needs the app's own pool (``own_app``): it counts the connections checked out."""

    database: Database = app.state.database

    def checked_out() -> int:
        return database.pool_status()["checkedout"]

    assert set(await seen_while_hashing(client, monkeypatch, name, checked_out)) == {0}


@pytest.mark.own_app
@pytest.mark.parametrize(
    "name",
    [
        "login",
        "unknown-email",
        "registration",
        "password-change",
        "password-endpoint",
        "account-deletion",
    ],
)
async def test_sqlite_write_lock_is_free_while_a_password_hashes(
    client: httpx.AsyncClient, settings: Settings, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """Needs real commits to a file (``own_app``): another connection takes the lock."""
    if not settings.is_sqlite:
        pytest.skip("SQLite only: PostgreSQL has no database-wide write lock")
    database = sqlite_file(settings.database_url)
    assert database is not None

    def can_take_write_lock() -> bool:
        other = sqlite3.connect(database, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        except sqlite3.OperationalError:
            return False
        finally:
            other.close()
        return True

    assert all(await seen_while_hashing(client, monkeypatch, name, can_take_write_lock))


async def test_password_change_writes_everything_it_was_asked_to(
    client: httpx.AsyncClient, stored_user: StoredUser
) -> None:
    alice = await register(client, "alice", password=PASSWORD)

    response = await _change_password(client, alice["token"])

    assert response.status_code == 200
    row = await stored_user("alice")
    assert row is not None
    assert row["bio"] == "new"
    assert (await login(client, "alice@example.com", "battery-staple")).status_code == 200


# At most N hashes at once ---------------------------------------------------------------


@pytest.fixture
async def limited(app: FastAPI, settings: Settings, request: pytest.FixtureRequest) -> Any:
    """An app of its own whose workers hash ``request.param`` passwords at once."""
    limit: int = request.param
    own = create_app(settings.model_copy(update={"password_hash_concurrency": limit}))
    transport = httpx.ASGITransport(app=own)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, limit
    await own.state.live.close()
    await own.state.read_cache.close()
    await own.state.database.dispose()


@pytest.mark.own_app
@pytest.mark.parametrize("limited", [1, 2], indirect=True)
async def test_concurrent_logins_hash_at_most_the_configured_number_at_once(
    limited: tuple[httpx.AsyncClient, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Needs concurrent requests on real connections (``own_app``)."""
    client, limit = limited
    for n in range(3):
        await register(client, f"user{n}", password=PASSWORD)
    state = threading.Condition()
    active = 0
    most = 0
    filled = False

    def during() -> Iterator[None]:
        nonlocal active, most, filled
        with state:
            active += 1
            most = max(most, active)
            # Hold the first hashes until `limit` run together: proof the limit is reached.
            filled = filled or state.wait_for(lambda: active >= limit, timeout=10)
            state.notify_all()
        try:
            threading.Event().wait(0.02)  # a window in which one hash too many would show
            yield
        finally:
            with state:
                active -= 1

    install(monkeypatch, during)
    # Known and unknown emails: the timing equaliser takes its turn like any verification.
    emails = [f"user{n % 3}@example.com" for n in range(6)] + ["nobody@example.com"] * 4

    responses = await asyncio.gather(*(login(client, email) for email in emails))

    assert [r.status_code for r in responses] == [200] * 6 + [401] * 4
    assert filled
    assert most == limit


# Rehash on login ------------------------------------------------------------------------


def stronger(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make today's parameters stronger than those the stored hashes were made with."""
    old = extract_parameters(security._hasher.hash(PASSWORD))
    hasher = Argon2Hasher(time_cost=old.time_cost + 1, memory_cost=old.memory_cost, parallelism=1)
    monkeypatch.setattr(security, "_hasher", PasswordHash((hasher,)))


async def test_login_upgrades_a_hash_made_with_older_parameters(
    client: httpx.AsyncClient, stored_user: StoredUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register(client, "alice", password=PASSWORD)
    before = await stored_user("alice")
    assert before is not None
    old_time_cost = extract_parameters(before["password_hash"]).time_cost
    stronger(monkeypatch)

    response = await login(client, "alice@example.com")

    assert response.status_code == 200
    after = await stored_user("alice")
    assert after is not None
    assert extract_parameters(after["password_hash"]).time_cost == old_time_cost + 1
    assert security._hasher.verify(PASSWORD, after["password_hash"])
    again = await login(client, "alice@example.com")
    assert again.status_code == 200
    assert await stored_user("alice") == after  # current hashes are left alone


async def test_wrong_password_leaves_an_old_hash_alone(
    client: httpx.AsyncClient, stored_user: StoredUser, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register(client, "alice", password=PASSWORD)
    before = await stored_user("alice")
    stronger(monkeypatch)

    response = await login(client, "alice@example.com", "wrong-horse")

    assert response.status_code == 401
    assert response.json() == BAD_CREDENTIALS
    assert await stored_user("alice") == before


@pytest.mark.own_app
async def test_a_rehash_never_undoes_a_password_changed_meanwhile(
    app: FastAPI, client: httpx.AsyncClient, stored_user: StoredUser
) -> None:
    """Needs a second connection that commits between the read and the rehash (``own_app``)."""
    await register(client, "alice", password=PASSWORD)
    database = app.state.database
    async with database.writer() as session:
        alice = await repository.get_by_email(session, "alice@example.com")
        assert alice is not None
        await session.commit()  # what login's release does before verifying
        async with database.writer() as other:
            changed = update(User).where(User.id == alice.id).values(password_hash="changed")
            await other.execute(changed)
            await other.commit()
        await repository.replace_password_hash(session, alice, "rehashed")
        await session.commit()

    row = await stored_user("alice")
    assert row is not None
    assert row["password_hash"] == "changed"
