"""Shared fixtures: a migrated database per backend, an app per test, user builders.

The suite runs on SQLite by default. With ``FASTBOARD_TEST_DATABASE_URL`` set (CI sets it
to the local PostgreSQL), every test that uses the database runs on PostgreSQL as well.
That URL names a *server*, not a database: the suite creates a database of its own there,
``fastboard_test_<pid>_<hex>`` (CREATE DATABASE, from the maintenance database
``postgres``), migrates it, and drops it when the session ends. The database part of the
URL is ignored, and no database the suite did not create is ever dropped or emptied.
Under ``CI=true`` an unreachable PostgreSQL fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from redis.asyncio import Redis
from sqlalchemy import event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

import fastboard.security
from fastboard.app import create_app
from fastboard.migrate import upgrade_to_head
from fastboard.models import Base
from fastboard.settings import Settings

IN_CI = os.environ.get("CI", "").lower() == "true"
POSTGRES_URL = os.environ.get("FASTBOARD_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("FASTBOARD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
TEST_SECRET = "test-secret-key-that-is-long-enough-for-hs256-0123456789"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at its cheapest parameters: the suite registers hundreds of users, and at
    production cost (64 MiB, 3 passes) hashing would dominate its run time. The hashes
    stay real Argon2id, so every login still verifies for real."""
    cheap = PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    monkeypatch.setattr(fastboard.security, "_hasher", cheap)


def _problem(probe: Callable[[], Coroutine[Any, Any, None]]) -> str | None:
    """Why ``probe`` failed, or None when it succeeded."""
    try:
        asyncio.run(probe())
    except Exception as exc:
        return repr(exc)
    return None


def postgres_server() -> URL:
    """The PostgreSQL server the tests create their databases on, as a URL of its
    maintenance database (whatever database ``FASTBOARD_TEST_DATABASE_URL`` names)."""
    assert POSTGRES_URL is not None
    return make_url(POSTGRES_URL).set(database="postgres")


async def _on_server(statement: str) -> None:
    """Run one statement on the maintenance database, outside a transaction (CREATE
    and DROP DATABASE refuse to run inside one)."""
    engine = create_async_engine(
        postgres_server(), isolation_level="AUTOCOMMIT", connect_args={"timeout": 5}
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def create_postgres_database(purpose: str) -> str:
    """Create an empty database with a name no other run uses; returns its URL.

    Drop it with ``drop_postgres_database``: the suite drops only what it created.
    """
    name = f"fastboard_{purpose}_{os.getpid()}_{uuid4().hex[:8]}"
    await _on_server(f'CREATE DATABASE "{name}"')
    return postgres_server().set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    await _on_server(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of the suite's own; Alembic builds it, as in production."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "fastboard.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        problem = _problem(lambda: _on_server("SELECT 1"))
        if problem is not None:
            server = postgres_server().render_as_string()
            if IN_CI:
                pytest.fail(f"PostgreSQL at {server} is required in CI: {problem}")
            pytest.skip(f"PostgreSQL at {server} is unreachable: {problem}")
        url = asyncio.run(create_postgres_database("test"))
    try:
        upgrade_to_head(make_settings(url, tmp_path_factory.mktemp("var")))
        yield url
    finally:
        if request.param != "sqlite":
            asyncio.run(drop_postgres_database(url))


def _redis_problem(url: str) -> str | None:
    async def probe() -> None:
        client = Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        try:
            await client.ping()
        finally:
            await client.aclose()

    return _problem(probe)


@pytest.fixture(scope="session")
def redis_url() -> str | None:
    """Redis for the read cache, or None where it is absent (a failure in CI).

    With Redis the whole suite runs with the cache on, as production does: every test that
    writes and then reads anonymously checks that writes invalidate what it caches.
    """
    problem = _redis_problem(REDIS_URL)
    if problem is None:
        return REDIS_URL
    if IN_CI:
        pytest.fail(f"Redis at {REDIS_URL} is required in CI: {problem}")
    return None


def require_redis(redis_url: str | None) -> str:
    if redis_url is None:
        pytest.skip(f"Redis at {REDIS_URL} is unreachable")
    return redis_url


def make_settings(database_url: str, var_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "var_dir": var_dir,
        "migrate_on_start": False,
        "db_pool_size": 5,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def settings(database_url: str, redis_url: str | None, tmp_path: Path) -> Settings:
    # A key prefix of its own: no test ever sees another's cached responses.
    return make_settings(
        database_url, tmp_path / "var", redis_url=redis_url, redis_prefix=f"test-{uuid4().hex}"
    )


async def _forget_cached(settings: Settings) -> None:
    if settings.redis_url is None:
        return
    client = Redis.from_url(settings.redis_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{settings.redis_prefix}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def _empty_all_tables(app: FastAPI) -> None:
    tables = [table.name for table in reversed(Base.metadata.sorted_tables)]
    async with app.state.database.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our own names


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    await _empty_all_tables(application)
    yield application
    await application.state.read_cache.close()
    await application.state.database.dispose()
    await _forget_cached(settings)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


class QueryCounter:
    def __init__(self) -> None:
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: FastAPI) -> Any:
    """``with count_queries() as counter:`` records every SQL statement the app runs."""

    @contextmanager
    def counting() -> Iterator[QueryCounter]:
        counter = QueryCounter()
        engine = app.state.database.sync_engine

        def record(*args: Any) -> None:
            counter.statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", record)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", record)

    return counting


# Builders -----------------------------------------------------------------------------


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Token {token}"}


async def register(
    client: httpx.AsyncClient, username: str | None = None, password: str = "correct-horse"
) -> dict[str, Any]:
    """Register a user through the API; returns the ``user`` object (with its token)."""
    name = username or f"user{uuid4().hex[:10]}"
    payload = {"user": {"username": name, "email": f"{name}@example.com", "password": password}}
    response = await client.post("/api/users", json=payload)
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> dict[str, Any]:
    return await register(client, "alice")


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> dict[str, Any]:
    return await register(client, "bob")


async def create_article(client: httpx.AsyncClient, token: str, **fields: Any) -> dict[str, Any]:
    article = {
        "title": fields.pop("title", f"Title {uuid4().hex[:8]}"),
        "description": fields.pop("description", "A description"),
        "body": fields.pop("body", "The body"),
        **fields,
    }
    response = await client.post("/api/articles", json={"article": article}, headers=auth(token))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["article"]
    return created
