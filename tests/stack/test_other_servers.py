"""The same ``main:app`` runs unchanged under other ASGI servers: Hypercorn and Daphne.

Each runs as a real subprocess on a loopback port, on SQLite, and serves a short
RealWorld session: register, write an article, list it, check health.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import pytest

from fastboard.migrate import upgrade_to_head
from fastboard.settings import Settings
from fastboard.stack import ROOT, free_port
from tests.stack.conftest import SECRET, register
from tests.stack.processes import serving

pytestmark = [pytest.mark.stack, pytest.mark.anyio]


def hypercorn(port: int) -> list[str]:
    return [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "main:app"]


def daphne(port: int) -> list[str]:
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "main:app"]


@pytest.fixture(params=[hypercorn, daphne], ids=["hypercorn", "daphne"])
def server_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'fastboard.db'}"
    upgrade_to_head(Settings(env="test", database_url=database_url, secret_key=SECRET))
    env = {key: value for key, value in os.environ.items() if not key.startswith("FASTBOARD_")}
    env.update(
        FASTBOARD_ENV="test",
        FASTBOARD_SECRET_KEY=SECRET,
        FASTBOARD_DATABASE_URL=database_url,
        FASTBOARD_VAR_DIR=str(tmp_path / "var"),
        PYTHONPATH=str(ROOT),
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(
        request.param(port),
        probe=f"{url}/health",
        output=tmp_path / "server.log",
        boot_timeout=30,
        stop=signal.SIGTERM,
        stop_timeout=15,
        env=env,
        cwd=tmp_path,
    ):
        yield url


async def test_realworld_session(server_url: str) -> None:
    async with httpx.AsyncClient(base_url=server_url, timeout=15) as client:
        name, token = await register(client)
        title = f"Portable {uuid4().hex[:8]}"
        created = await client.post(
            "/api/articles",
            json={
                "article": {"title": title, "description": "d", "body": "b", "tagList": ["asgi"]}
            },
            headers={"Authorization": f"Token {token}"},
        )
        assert created.status_code == 201, created.text
        listed = await client.get("/api/articles", params={"author": name})
        assert listed.status_code == 200
        assert [article["title"] for article in listed.json()["articles"]] == [title]
        assert (await client.get("/api/tags")).json()["tags"] == ["asgi"]
        health = await client.get("/health")
        assert health.status_code == 200
        assert health.json() == {"status": "ok"}
