"""Fixtures that run the real production stack: NGINX → Gunicorn (Uvicorn workers) → app.

A pytest plugin (``pytest_plugins`` in tests/conftest.py), so the stack tests and the
browser tests (tests/web/) share one instance of each session fixture: one database.

Each stack lives in its own temporary directory, listens on a free loopback port and talks
to a dedicated PostgreSQL database, ``fastboard_stack_<pid>``, created and migrated once
per session and dropped at its end. Without nginx or PostgreSQL the tests skip, except
under ``CI=true``, where a missing prerequisite fails the run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from uuid import uuid4

import pytest
from redis import Redis
from sqlalchemy import text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from dev.nginx import UNLIMITED, nginx_executable
from dev.stack import RunningStack, free_port, settings_env, start_stack
from fastboard.migrate import upgrade_to_head
from fastboard.nginx_conf import RateLimits, Tls
from fastboard.settings import Settings

IN_CI = os.environ.get("CI", "").lower() == "true"
SECRET = "stack-test-secret-key-0123456789-abcdefghijklmnop"
# One database per test session, so two sessions on one server (a developer and CI, or
# parallel jobs) never drop each other's data.
STACK_DATABASE = f"fastboard_stack_{os.getpid()}"
DEFAULT_SERVER_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


def unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where the stack tests are the point."""
    if IN_CI:
        pytest.fail(f"{reason} (required when CI=true)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def nginx() -> str:
    binary = nginx_executable()
    if binary is None:
        unavailable("nginx is not installed")
    assert binary is not None
    return binary


def _server_url() -> URL:
    """The PostgreSQL server the rest of the suite uses, or the local default."""
    return make_url(os.environ.get("FASTBOARD_TEST_DATABASE_URL", DEFAULT_SERVER_URL))


async def _admin(url: URL, *statements: str) -> None:
    """Run statements on the server's maintenance database, outside a transaction
    (CREATE/DROP DATABASE refuse to run inside one)."""
    engine = create_async_engine(
        url.set(database="postgres"), isolation_level="AUTOCOMMIT", connect_args={"timeout": 5}
    )
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def stack_postgres_server() -> URL:
    url = _server_url()
    try:
        asyncio.run(
            _admin(
                url,
                f'DROP DATABASE IF EXISTS "{STACK_DATABASE}" WITH (FORCE)',
                f'CREATE DATABASE "{STACK_DATABASE}"',
            )
        )
    except (OSError, DBAPIError, TimeoutError) as exc:
        unavailable(f"PostgreSQL at {url.render_as_string()} is unreachable: {exc!r}")
    return url


@pytest.fixture(scope="session")
def stack_database_url(
    stack_postgres_server: URL, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    url = stack_postgres_server.set(drivername="postgresql+asyncpg", database=STACK_DATABASE)
    rendered = url.render_as_string(hide_password=False)
    upgrade_to_head(
        Settings(env="test", database_url=rendered, secret_key=SECRET, migrate_on_start=False)
    )
    yield rendered
    drop = f'DROP DATABASE IF EXISTS "{STACK_DATABASE}" WITH (FORCE)'
    asyncio.run(_admin(stack_postgres_server, drop))


def stack_env(
    database_url: str, workdir: Path, redis_url: str | None, **extra: str
) -> dict[str, str]:
    """What a production host sets, plus JSON logs the tests can read. With Redis, the
    read cache is on, under a key prefix of this stack's own."""
    cache = {"redis_url": redis_url, "redis_prefix": f"stack-{uuid4().hex}"} if redis_url else {}
    env = settings_env(
        env="production",
        secret_key=SECRET,
        database_url=database_url,
        migrate_on_start="false",
        var_dir=str(workdir / "var"),
        log_json="true",
        log_level="info",
        # These tests register many users from one address, as NGINX's limits are lifted
        # for them (the app's credential throttle is tested in tests/users/).
        throttle="false",
        **cache,
    )
    env["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "metrics")
    env.update(extra)
    return env


def forget_redis_keys(redis_url: str | None, env: dict[str, str]) -> None:
    """Delete what a stopped stack left in Redis: its cache entries expire, but the
    generation counter never does, and every stack has a prefix of its own."""
    prefix = env.get("FASTBOARD_REDIS_PREFIX")
    if not redis_url or not prefix:
        return
    with Redis.from_url(redis_url, socket_timeout=5) as client:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)


StackFactory = Callable[..., RunningStack]


@pytest.fixture
def make_stack(
    nginx: str, stack_database_url: str, redis_url: str | None, tmp_path: Path
) -> Iterator[StackFactory]:
    """Start a stack for one test; it is stopped (quickly) when the test ends."""
    started: list[tuple[RunningStack, dict[str, str]]] = []

    def make(
        *,
        workers: int = 2,
        limits: RateLimits = UNLIMITED,
        database_url: str | None = None,
        hosts: int = 1,
        trusted_proxies: Sequence[str] = (),
        tls: Tls | None = None,
        acme_root: Path | None = None,
        **env: str,
    ) -> RunningStack:
        workdir = tmp_path / f"stack{len(started)}"
        environment = stack_env(database_url or stack_database_url, workdir, redis_url, **env)
        try:
            running = start_stack(
                workdir=workdir,
                port=free_port(),
                workers=workers,
                env=environment,
                limits=limits,
                hosts=hosts,
                trusted_proxies=trusted_proxies,
                tls=tls,
                acme_root=acme_root,
            )
        except BaseException:
            forget_redis_keys(redis_url, environment)
            raise
        started.append((running, environment))
        return running

    yield make
    for running, environment in started:
        running.stop(graceful=False, timeout=15)
        forget_redis_keys(redis_url, environment)


@pytest.fixture(scope="module")
def shared_stack(
    nginx: str,
    stack_database_url: str,
    redis_url: str | None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningStack]:
    """One stack for a module of tests that only send requests. Rate limits are lifted
    (those tests register many users from one address); the production limits are
    tested on their own, against NGINX alone."""
    workdir = tmp_path_factory.mktemp("stack")
    environment = stack_env(stack_database_url, workdir, redis_url)
    try:
        running = start_stack(
            workdir=workdir, port=free_port(), workers=2, env=environment, limits=UNLIMITED
        )
        yield running
        running.stop(graceful=True, timeout=30)
    finally:
        forget_redis_keys(redis_url, environment)
