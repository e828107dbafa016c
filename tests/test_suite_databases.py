"""The suite's PostgreSQL databases are its own: a run never touches one it did not create."""

from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.conftest import POSTGRES_URL, create_postgres_database, drop_postgres_database

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent

# A run of the suite's fixtures in a child pytest: it reports the database it was given.
PROBE = textwrap.dedent(
    """
    import os
    from pathlib import Path

    def test_probe(database_url):
        if database_url.startswith("postgresql"):
            Path(os.environ["PROBE_REPORT"]).write_text(database_url)
    """
)


async def _scalar(url: str, query: str) -> Any:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(text(query))
    finally:
        await engine.dispose()


async def test_a_run_leaves_the_database_it_is_pointed_at_alone(tmp_path: Path) -> None:
    """A user's table in the database the URL names survives a run, and the database the
    run created for itself is gone afterwards."""
    if POSTGRES_URL is None:
        pytest.skip("FASTBOARD_TEST_DATABASE_URL is not set")
    users_database = await create_postgres_database("users_own")
    try:
        engine = create_async_engine(users_database)
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE precious (id int)"))
            await conn.execute(text("INSERT INTO precious VALUES (42)"))
        await engine.dispose()
        probe = tmp_path / "test_probe.py"
        probe.write_text(PROBE)
        report = tmp_path / "report"
        env = {
            **os.environ,
            "FASTBOARD_TEST_DATABASE_URL": users_database,
            "PROBE_REPORT": str(report),
        }
        child = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        run = await anyio.run_process(
            [*child, "-p", "tests.conftest", "-k", "postgresql", str(probe)],
            cwd=ROOT,
            env=env,
            check=False,
        )
        assert run.returncode == 0, (run.stdout + run.stderr).decode()

        assert await _scalar(users_database, "SELECT id FROM precious") == 42
        used = make_url(report.read_text()).database
        assert used is not None
        assert used.startswith("fastboard_test_")
        assert used != make_url(users_database).database
        query = f"SELECT count(*) FROM pg_database WHERE datname = '{used}'"  # noqa: S608
        assert await _scalar(users_database, query) == 0
    finally:
        await drop_postgres_database(users_database)
