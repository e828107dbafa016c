"""Shared fixtures: a migrated database per backend, an app per test, user builders.

The suite runs on SQLite by default. With ``FASTBOARD_TEST_DATABASE_URL`` set (CI sets it
to the local PostgreSQL), every test that uses the database runs on PostgreSQL as well.
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


def _reachable(url: str) -> str | None:
    async def probe() -> None:
        engine = create_async_engine(url, connect_args={"timeout": 3})
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        finally:
            await engine.dispose()

    return _problem(probe)


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated, empty database; Alembic builds it, exactly as in production."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "fastboard.db"
        url = f"sqlite+aiosqlite:///{path}"
    else:
        assert POSTGRES_URL is not None
        url = POSTGRES_URL
        problem = _reachable(url)
        if problem is not None:
            if IN_CI:
                pytest.fail(f"PostgreSQL at {url} is required in CI: {problem}")
            pytest.skip(f"PostgreSQL at {url} is unreachable: {problem}")
        asyncio.run(_drop_everything(url))
    upgrade_to_head(make_settings(url, tmp_path_factory.mktemp("var")))
    return url


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


async def _drop_everything(url: str) -> None:
    """Start the PostgreSQL test database from nothing, whatever an earlier run left, so
    every run builds the schema through the migrations from scratch."""
    engine = create_async_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


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
