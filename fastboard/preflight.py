"""``fastboard check-config``: the configuration the service would run with, and whether
it can run with it (database reachable, schema at the newest migration, Redis answering).
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from sqlalchemy.engine import Connection, make_url

from fastboard.db import build_engine, sqlite_file
from fastboard.migrate import alembic_config
from fastboard.settings import Settings


@dataclass(frozen=True)
class Finding:
    check: str
    ok: bool
    detail: str


def masked_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def effective_config(settings: Settings) -> dict[str, str]:
    """Every setting that matters for operations, secrets reduced to whether they are set."""
    secret = (
        "set"
        if settings.secret_key is not None
        else f"not set (a generated key is kept in {settings.var_dir / 'secret_key'})"
    )
    return {
        "env": settings.env,
        "database_url": masked_url(settings.database_url),
        "db_pool": f"size {settings.db_pool_size}, overflow {settings.db_max_overflow}, "
        f"timeout {settings.db_pool_timeout:g} s",
        "migrate_on_start": str(settings.should_migrate_on_start).lower(),
        "secret_key": secret,
        "redis_url": masked_url(settings.redis_url) if settings.redis_url else "not set",
        "log_level": settings.log_level,
        "log_json": str(settings.json_logs).lower(),
        "var_dir": str(settings.var_dir),
        # Read by fastboard.gunicorn_conf, not by the app.
        "bind": os.environ.get("FASTBOARD_BIND", "127.0.0.1:8000 (default)"),
        "workers": os.environ.get("FASTBOARD_WORKERS", "2 x cores + 1 (default)"),
    }


# Alembic is imported inside these two, as in fastboard.migrate: /ready uses them, and
# importing the app must not load Alembic in every worker.


def current_revisions(connection: Connection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    return set(MigrationContext.configure(connection).get_current_heads())


def head_revisions(settings: Settings) -> set[str]:
    """The newest migrations the code has (reads the migration scripts)."""
    config = alembic_config(settings)
    from alembic.script import ScriptDirectory

    return set(ScriptDirectory.from_config(config).get_heads())


def migrations_finding(current: set[str], heads: set[str]) -> Finding:
    if current == heads:
        return Finding("migrations", True, f"at head ({', '.join(sorted(heads))})")
    have = ", ".join(sorted(current)) or "none"
    return Finding(
        "migrations",
        False,
        f"database at {have}, code expects {', '.join(sorted(heads))}: run `fastboard migrate`",
    )


def missing_sqlite_file(settings: Settings) -> Finding | None:
    """Connecting would create an empty file and report a confusing "not migrated"."""
    if not settings.is_sqlite:
        return None
    file = sqlite_file(settings.database_url)
    if file is not None and not file.exists():
        return Finding("database", False, f"{file} does not exist: run `fastboard migrate`")
    return None


async def check_database(settings: Settings) -> list[Finding]:
    engine = build_engine(settings)
    try:
        async with asyncio.timeout(settings.db_connect_timeout + 1), engine.connect() as conn:
            current = await conn.run_sync(current_revisions)
    except Exception as exc:  # any failure to answer is the finding itself
        return [Finding("database", False, f"unreachable: {exc!r}")]
    finally:
        await engine.dispose()
    return [
        Finding("database", True, "reachable"),
        migrations_finding(current, head_revisions(settings)),
    ]


async def check_redis(settings: Settings) -> list[Finding]:
    if not settings.redis_url:
        return []
    from redis.asyncio import Redis

    client = Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=3)
    try:
        await client.ping()
    except Exception as exc:  # any failure to answer is the finding itself
        return [Finding("redis", False, f"unreachable: {exc!r}")]
    finally:
        await client.aclose()
    return [Finding("redis", True, "reachable")]


async def _checks(settings: Settings) -> list[Finding]:
    missing = missing_sqlite_file(settings)
    database = [missing] if missing else await check_database(settings)
    return [*database, *await check_redis(settings)]


def run_checks(settings: Settings) -> list[Finding]:
    return asyncio.run(_checks(settings))
