"""A worker whose event loop is stuck (a CPU loop in a request) is killed by Gunicorn's
timeout and replaced, while the other worker serves every request sent meanwhile.

Uvicorn notifies Gunicorn from its event loop (``on_tick``): a blocked loop stops the
heartbeat, which is what lets the master see the worker as stuck. Gunicorn straight, on
TCP, serving tests/stack/spinning_app.py (fastboard's app plus ``GET /spin``).
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from dev.stack import free_port
from fastboard.serve import gunicorn_command, gunicorn_env
from tests.stack.fixtures import stack_env
from tests.stack.load import Load
from tests.stack.processes import children, serving, wait_for_workers
from tests.stack.waiting import until

pytestmark = [pytest.mark.stack, pytest.mark.anyio]

REPOSITORY = Path(__file__).resolve().parents[2]
SPINNING_APP = "tests.stack.spinning_app:create_app()"
# Short, so the test is quick; not so short that a healthy worker on a busy machine misses
# a heartbeat (Uvicorn notifies every timeout/2 s, checked once a second).
TIMEOUT_SECONDS = 5


class Gunicorn:
    def __init__(self, process: Any, url: str, log: Path) -> None:
        self.process = process
        self.url = url
        self.log = log

    def records(self) -> list[dict[str, Any]]:
        found = []
        for line in self.log.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                found.append(record)
        return found

    def first(self, pattern: str) -> dict[str, Any] | None:
        return next((r for r in self.records() if re.search(pattern, str(r["message"]))), None)

    def startups(self) -> int:
        return sum(r["message"] == "Application startup complete." for r in self.records())


@pytest.fixture
def gunicorn(stack_database_url: str, tmp_path: Path) -> Iterator[Gunicorn]:
    port = free_port()
    env = stack_env(stack_database_url, tmp_path, None, FASTBOARD_TIMEOUT=str(TIMEOUT_SECONDS))
    env = gunicorn_env(bind=f"127.0.0.1:{port}", workers=2, metrics_dir=tmp_path / "m", base=env)
    # The test module is importable from the checkout; the workers run (and would dump
    # any core) in the temporary directory.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPOSITORY), env.get("PYTHONPATH")]))
    log = tmp_path / "gunicorn.log"
    url = f"http://127.0.0.1:{port}"
    with serving(
        gunicorn_command(SPINNING_APP),
        probe=f"{url}/health",
        output=log,
        boot_timeout=60,
        stop=signal.SIGQUIT,
        stop_timeout=15,
        env=env,
        cwd=tmp_path,
    ) as process:
        yield Gunicorn(process, url, log)


def new_connection_each_time(url: str) -> httpx.AsyncClient:
    """A connection per request: each is a new accept, which only a worker whose loop
    runs can make."""
    transport = httpx.AsyncHTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
    return httpx.AsyncClient(transport=transport, base_url=url, timeout=30)


def at(record: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(record["time"])


async def test_stuck_worker_is_killed_and_replaced_while_the_other_serves(
    gunicorn: Gunicorn,
) -> None:
    master = gunicorn.process.pid
    workers = await wait_for_workers(master, 2)
    await until(lambda: gunicorn.startups() >= 2, seconds=60)
    # A request slower than the timeout is not a stuck worker: its loop keeps beating.
    async with new_connection_each_time(gunicorn.url) as client:
        slow = await client.get("/pause", params={"seconds": TIMEOUT_SECONDS * 1.5})
    assert slow.status_code == 200
    assert gunicorn.first("WORKER TIMEOUT") is None
    assert children(master) == workers

    spin_outcome: list[BaseException | int] = []

    async def send_spin() -> None:
        async with new_connection_each_time(gunicorn.url) as client:
            try:
                spin_outcome.append((await client.get("/spin")).status_code)
            except httpx.HTTPError as exc:
                spin_outcome.append(exc)

    async with new_connection_each_time(gunicorn.url) as client, anyio.create_task_group() as tg:
        tg.start_soon(send_spin)
        await until(lambda: gunicorn.first(r"^spinning in worker \d+") is not None)
        spinning = gunicorn.first(r"^spinning in worker \d+")
        assert spinning is not None
        stuck, spun_at = int(spinning["pid"]), at(spinning)
        load = Load(client, [("GET", "/health")], concurrency=2, max_requests=100_000)
        load.phase = "stuck"
        tg.start_soon(load.run)

        await until(lambda: gunicorn.first(rf"WORKER TIMEOUT \(pid:{stuck}\)") is not None)
        load.phase = "killed"
        replaced = await wait_for_workers(master, 2, excluding={stuck})
        await until(lambda: gunicorn.startups() >= 3, seconds=60)
        load.phase = "replaced"
        await load.wait_completed(50, phase="replaced")
        load.stop()

    killed = gunicorn.first(rf"WORKER TIMEOUT \(pid:{stuck}\)")
    assert killed is not None
    assert killed["pid"] == master  # the master's log line
    assert gunicorn.first(rf"Worker \(pid:{stuck}\) was sent SIGABRT") is not None
    # The other worker never stopped: it served every request sent while one was stuck.
    assert load.failures() == [], load.summary()
    assert len(load.in_phase("stuck")) > 0, load.summary()
    assert stuck in workers
    assert stuck not in replaced
    assert workers - {stuck} <= replaced
    # The spinning request itself got no answer: its worker died under it.
    assert len(spin_outcome) == 1
    assert isinstance(spin_outcome[0], httpx.RemoteProtocolError), spin_outcome
    assert gunicorn.process.poll() is None
    assert children(master) == replaced
    # Figures for the README, not assertions (no timed assertions in tests).
    print(
        f"\nstuck for {(at(killed) - spun_at).total_seconds():.1f} s before the kill "
        f"(timeout {TIMEOUT_SECONDS} s); {len(load.in_phase('stuck'))} requests served "
        f"meanwhile, {len(load.outcomes)} in all, {len(load.failures())} failed",
        file=sys.stderr,
    )
