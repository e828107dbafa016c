"""Shared fixtures: a migrated database and an app per backend, isolation, user builders.

The suite runs on SQLite by default. With ``FASTBOARD_TEST_DATABASE_URL`` set (CI sets it
to the local PostgreSQL), every test that uses the database runs on PostgreSQL as well.
That URL names a *server*, not a database: the suite creates a database of its own there,
``fastboard_test_<pid>_<hex>`` (CREATE DATABASE, from the maintenance database
``postgres``), migrates it, and drops it when the session ends. The database part of the
URL is ignored, and no database the suite did not create is ever dropped or emptied.
Under ``CI=true`` an unreachable PostgreSQL fails the run instead of skipping.

Each backend's app is built once per session; every test runs in a transaction rolled
back at its end (see ``_isolated``). A test marked ``own_app`` (concurrent
requests, other connections, changes to the app) gets an app of its own whose requests
really commit.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
from fastapi import FastAPI
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from redis.asyncio import Redis
from sqlalchemy import event, func, or_, select, text, update
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import create_async_engine

import fastboard.security
from fastboard.app import create_app
from fastboard.migrate import upgrade_to_head
from fastboard.models import Base
from fastboard.settings import Settings
from fastboard.users.models import User
from tests.stack.forwarder import TcpForwarder, forwarding

# The real stack's fixtures (NGINX, Gunicorn, its database), for tests/stack/ and tests/web/.
pytest_plugins = ["tests.stack.fixtures"]

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
    """The PostgreSQL server ``FASTBOARD_TEST_DATABASE_URL`` names (its database part is
    not used)."""
    assert POSTGRES_URL is not None
    return make_url(POSTGRES_URL)


async def _on_server(server: URL, statement: str) -> None:
    """Run one statement on the server's maintenance database, outside a transaction
    (CREATE and DROP DATABASE refuse to run inside one)."""
    engine = create_async_engine(
        server.set(database="postgres"), isolation_level="AUTOCOMMIT", connect_args={"timeout": 5}
    )
    try:
        async with engine.connect() as conn:
            await conn.execute(text(statement))
    finally:
        await engine.dispose()


async def create_postgres_database(purpose: str, server: URL | None = None) -> str:
    """Create an empty database with a name no other run uses; returns its URL.

    Drop it with ``drop_postgres_database``: the suite drops only what it created.
    """
    server = server or postgres_server()
    name = f"fastboard_{purpose}_{os.getpid()}_{uuid4().hex[:8]}"
    await _on_server(server, f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(url: str) -> None:
    database = make_url(url)
    await _on_server(database, f'DROP DATABASE IF EXISTS "{database.database}" WITH (FORCE)')


@contextmanager
def suite_database(server: URL, var_dir: Path) -> Iterator[str]:
    """The suite's own migrated database on ``server``, dropped on exit."""
    url = asyncio.run(create_postgres_database("test", server))
    try:
        upgrade_to_head(make_settings(url, var_dir))
        yield url
    finally:
        asyncio.run(drop_postgres_database(url))


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A migrated, empty database of the suite's own; Alembic builds it, as in production."""
    var_dir = tmp_path_factory.mktemp("var")
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'fastboard.db'}"
        upgrade_to_head(make_settings(url, var_dir))
        yield url
        return
    server = postgres_server()
    problem = _problem(lambda: _on_server(server, "SELECT 1"))
    if problem is not None:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {server!r} is required in CI: {problem}")
        pytest.skip(f"PostgreSQL at {server!r} is unreachable: {problem}")
    with suite_database(server, var_dir) as url:
        yield url


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


@pytest.fixture
def redis_forwarder(redis_url: str | None) -> Iterator[tuple[TcpForwarder, str]]:
    """A forwarder to the suite's Redis that a test can cut, and the URL through it."""
    with forwarding(require_redis(redis_url), 6379) as forwarded:
        yield forwarded


def make_settings(database_url: str, var_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "var_dir": var_dir,
        "migrate_on_start": False,
        "db_pool_size": 5,
        "db_max_overflow": 5,
        # The suite signs up hundreds of users from one address: the credential throttle
        # is tested on its own (tests/users/test_throttle.py).
        "throttle": False,
    }
    values.update(overrides)
    return Settings(**values)


OWN_APP = "own_app"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{OWN_APP}: the test gets an app of its own, whose requests really commit, on a "
        "database emptied (but for the default board) before and after it: for tests that "
        "send concurrent requests, read through other connections or apps, or change the app "
        "(routes, hooks)",
    )


@pytest.fixture(scope="session")
def session_settings(
    database_url: str, redis_url: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    # A key prefix of this run's own, emptied after every test: no test ever sees cached
    # responses of another (or of another run sharing the Redis).
    return make_settings(
        database_url,
        tmp_path_factory.mktemp("var"),
        redis_url=redis_url,
        redis_prefix=f"test-{uuid4().hex}",
    )


@pytest.fixture
def settings(session_settings: Settings) -> Settings:
    """The app's settings. A test module overriding this fixture gets an app of its own
    built from what it returns."""
    return session_settings


@pytest.fixture(scope="session")
def shared_app(session_settings: Settings) -> FastAPI:
    """One app per backend for the whole session: building one costs more than most
    tests. Each test gets it back as ``create_app`` left it (see ``_isolated``)."""
    return create_app(session_settings)


async def _close(application: FastAPI) -> None:
    await application.state.live.close()
    await application.state.read_cache.close()
    await application.state.database.dispose()
    await _forget_cached(application.state.settings)


async def _forget_cached(settings: Settings) -> None:
    if settings.redis_url is None:
        return
    client = Redis.from_url(settings.redis_url)
    try:
        pattern = f"{settings.redis_prefix}:*"
        keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


TABLES = [table.name for table in reversed(Base.metadata.sorted_tables)]
# What migration 0004 puts in every database, as it does: the default category and board.
SEED = (
    "INSERT INTO categories (slug, name, description, position)"
    " VALUES ('community', 'Community', 'Boards for everyone', 1)",
    "INSERT INTO boards (category_id, slug, name, description, position, archived,"
    " articles_count) SELECT id, 'general', 'General', 'Anything that has no board of its own',"
    " 1, false, 0 FROM categories WHERE slug = 'community'",
)
SEEDED = {"categories": 1, "boards": 1}
ANY_ROW = select(
    or_(
        *(
            select(table).exists()
            if table.name not in SEEDED
            else select(func.count()).select_from(table).scalar_subquery() != SEEDED[table.name]
            for table in Base.metadata.sorted_tables
        )
    )
)


async def _empty_all_tables(application: FastAPI) -> None:
    async with application.state.database.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE"))
        else:
            for table in TABLES:
                await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our own names
        for statement in SEED:
            await conn.execute(text(statement))


@asynccontextmanager
async def _isolated(application: FastAPI) -> AsyncIterator[None]:
    """Run a test in one transaction that is rolled back at its end.

    The app's session factories are bound to one connection in an outer transaction, and
    ``join_transaction_mode="create_savepoint"`` makes each request's transaction a
    SAVEPOINT inside it: a request's commit releases its savepoint (and everything that
    follows a commit, such as read cache invalidation, happens as in production), and
    the test's end rolls all of it back. One connection means one request at a time:
    tests that send requests concurrently, or read through other connections, are marked
    ``own_app``; so are tests that add routes or after-commit hooks, which would outlive
    them in a shared app.
    """
    state: dict[str, Any] = application.state._state
    as_built = dict(state)
    routes = list(application.routes)
    database = application.state.database
    async with database.engine.connect() as conn:
        await conn.begin()
        for factory in (database.reader, database.writer):
            factory.configure(bind=conn, join_transaction_mode="create_savepoint")
        try:
            yield
        finally:
            await conn.rollback()
            # What a test set on app.state (metrics, a replaced cache) goes with it.
            state.clear()
            state.update(as_built)
            leaked = await conn.scalar(ANY_ROW)
    if leaked:
        await _empty_all_tables(application)
    # Each test runs in an event loop of its own (its contextvars and tasks end with it),
    # and connections belong to the loop that opened them. The engine stays, so the next
    # test skips the dialect's first-connect queries.
    await application.state.live.close()
    await application.state.read_cache.close()
    await database.engine.dispose()
    await _forget_cached(application.state.settings)
    if application.routes != routes:
        application.router.routes[:] = routes
        pytest.fail(f"the test changed the shared app's routes: mark it {OWN_APP}")
    if leaked:
        pytest.fail(f"rows outlived the test's transaction: mark it {OWN_APP}")


@pytest.fixture
async def app(
    request: pytest.FixtureRequest,
    settings: Settings,
    session_settings: Settings,
    shared_app: FastAPI,
) -> AsyncIterator[FastAPI]:
    if settings is session_settings and request.node.get_closest_marker(OWN_APP) is None:
        async with _isolated(shared_app):
            yield shared_app
        return
    application = create_app(settings)
    await _empty_all_tables(application)
    try:
        yield application
    finally:
        await _empty_all_tables(application)
        await _close(application)


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


async def promote(app: FastAPI, username: str, role: str = "admin") -> None:
    """Give a user a role, straight in the database (no endpoint grants one here)."""
    async with app.state.database.writer() as session:
        await session.execute(update(User).where(User.username == username).values(role=role))
        await session.commit()


@pytest.fixture
async def admin(app: FastAPI, client: httpx.AsyncClient) -> dict[str, Any]:
    """A signed-up user made admin: ``root``."""
    user = await register(client, "root")
    await promote(app, "root")
    return user


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


class CachedReads:
    """Anonymous GETs, and whether the read cache answered them (no SQL statement ran)."""

    def __init__(self, client: httpx.AsyncClient, count_queries: Any) -> None:
        self._client = client
        self._count_queries = count_queries

    async def get(self, path: str) -> tuple[httpx.Response, bool]:
        """The answer to an anonymous GET of ``path``, and whether it came from the cache
        (a miss stores the answer anew)."""
        with self._count_queries() as counter:
            response = await self._client.get(path)
        return response, counter.count == 0

    async def warm(self, *paths: str) -> None:
        """Read every path until the cache holds it."""
        for path in paths:
            response, _ = await self.get(path)
            assert response.status_code == 200, (path, response.text)
        assert await self.served(*paths) == dict.fromkeys(paths, True)

    async def served(self, *paths: str) -> dict[str, bool]:
        """For every path, whether the cache answered it (each path is read once)."""
        found: dict[str, bool] = {}
        for path in paths:
            response, cached = await self.get(path)
            assert response.status_code in (200, 404), (path, response.text)
            found[path] = cached
        return found


@pytest.fixture
def cached_reads(
    redis_url: str | None, client: httpx.AsyncClient, count_queries: Any
) -> CachedReads:
    require_redis(redis_url)
    return CachedReads(client, count_queries)
