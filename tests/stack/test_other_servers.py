"""The same ``main:app`` runs unchanged under other ASGI servers: Hypercorn, Daphne, and
Uvicorn's own process manager (how fastboard runs on Windows, where Gunicorn does not).

Each runs as a real subprocess on a loopback port, on SQLite, and serves a short
RealWorld session: register, write an article, list it, check health.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import anyio
import httpx
import pytest

from dev.stack import free_port
from fastboard.migrate import upgrade_to_head
from fastboard.settings import Settings
from tests.stack.conftest import SECRET, register
from tests.stack.processes import children, serving

pytestmark = [pytest.mark.stack, pytest.mark.anyio]


def hypercorn(port: int) -> list[str]:
    return [sys.executable, "-m", "hypercorn", "--bind", f"127.0.0.1:{port}", "main:app"]


def daphne(port: int) -> list[str]:
    return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "main:app"]


def uvicorn_workers(port: int) -> list[str]:
    """The README's command for Windows."""
    command = [sys.executable, "-m", "uvicorn", "main:app", "--port", str(port)]
    return [*command, "--workers", "2"]


def server_env(tmp_path: Path, checkout: Path) -> dict[str, str]:
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'fastboard.db'}"
    upgrade_to_head(Settings(env="test", database_url=database_url, secret_key=SECRET))
    env = {key: value for key, value in os.environ.items() if not key.startswith("FASTBOARD_")}
    env.update(
        FASTBOARD_ENV="test",
        FASTBOARD_SECRET_KEY=SECRET,
        FASTBOARD_DATABASE_URL=database_url,
        FASTBOARD_VAR_DIR=str(tmp_path / "var"),
        FASTBOARD_LOG_JSON="true",
        # main.py, the entry point these servers are given, sits in the checkout.
        PYTHONPATH=str(checkout),
    )
    return env


@pytest.fixture(
    params=[hypercorn, daphne, uvicorn_workers], ids=["hypercorn", "daphne", "uvicorn-workers"]
)
def server(
    request: pytest.FixtureRequest, tmp_path: Path, pytestconfig: pytest.Config
) -> Iterator[tuple[str, int]]:
    """(base URL, pid) of a server running main:app."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(
        request.param(port),
        probe=f"{url}/health",
        output=tmp_path / "server.log",
        boot_timeout=30,
        stop=signal.SIGTERM,
        stop_timeout=15,
        env=server_env(tmp_path, pytestconfig.rootpath),
        cwd=tmp_path,
    ) as process:
        yield url, process.pid


async def test_realworld_session(server: tuple[str, int]) -> None:
    server_url, _ = server
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


def cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def served_by(log: Path, request_ids: set[str]) -> set[int]:
    """The pids that logged these requests (JSON access lines carry the process id)."""
    pids = set()
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("request_id") in request_ids:
            pids.add(int(record["pid"]))
    return pids


@pytest.mark.parametrize("server", [uvicorn_workers], indirect=True, ids=["uvicorn-workers"])
async def test_uvicorn_workers_both_answer(server: tuple[str, int], tmp_path: Path) -> None:
    """Without Gunicorn, Uvicorn's own manager runs the workers: both answer requests."""
    url, supervisor = server
    # Its children: the two workers and multiprocessing's resource tracker.
    workers = {pid for pid in children(supervisor) if b"spawn_main" in cmdline(pid)}
    assert len(workers) == 2
    sent: set[str] = set()

    async def probe(path: str) -> None:
        rid = f"probe-{uuid4().hex}"
        sent.add(rid)
        # A connection per request, so the kernel may hand each to either worker.
        async with httpx.AsyncClient(base_url=url, timeout=15) as client:
            response = await client.get(path, headers={"X-Request-ID": rid})
        assert response.status_code == 200, response.text

    for _ in range(20):  # rounds of concurrent requests until both workers have answered
        async with anyio.create_task_group() as tasks:
            for path in ("/health", "/api/tags") * 5:
                tasks.start_soon(probe, path)
        await anyio.sleep(0.2)  # access lines are written just after the response
        if served_by(tmp_path / "server.log", sent) == workers:
            break
    assert served_by(tmp_path / "server.log", sent) == workers
