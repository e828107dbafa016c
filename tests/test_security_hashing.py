"""Password hashing cost and its bound: Argon2id at OWASP's minimum or above, and at most
``password_hash_concurrency`` hashes at once per worker, in threads below the event loop."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from argon2 import Type, extract_parameters
from pydantic import ValidationError

from fastboard import security
from fastboard.settings import Settings
from tests.conftest import make_settings

pytestmark = pytest.mark.anyio

PASSWORD = "correct-horse"
# OWASP Password Storage Cheat Sheet: Argon2id, 19 MiB, 2 iterations, 1 degree of parallelism.
OWASP_MEMORY_KIB = 19 * 1024
OWASP_TIME_COST = 2


@pytest.fixture
def hashing_settings(tmp_path: Path) -> Settings:
    return make_settings("sqlite+aiosqlite:///unused.db", tmp_path / "var")


def test_production_hashes_are_argon2id_at_owasp_minimum_or_above() -> None:
    parameters = extract_parameters(security.argon2id().hash(PASSWORD))

    assert parameters.type is Type.ID
    assert parameters.memory_cost >= OWASP_MEMORY_KIB
    assert parameters.time_cost >= OWASP_TIME_COST
    assert parameters.parallelism == 1  # one hash, one core


@pytest.mark.parametrize(
    ("name", "value"),
    [("password_hash_concurrency", 0), ("password_hash_nice", -1), ("password_hash_nice", 20)],
)
def test_hashing_settings_out_of_range_are_refused(tmp_path: Path, name: str, value: int) -> None:
    with pytest.raises(ValidationError, match=name):
        make_settings("sqlite+aiosqlite:///unused.db", tmp_path, **{name: value})


STORED = "$argon2id$v=19$m=1024,t=1,p=1$stored"  # never checked: the hasher is replaced
Work = Callable[[Settings], Coroutine[Any, Any, object]]
WORK: dict[str, Work] = {
    "hash": lambda settings: security.hash_password(PASSWORD, settings),
    "verify": lambda settings: security.verify_and_update(PASSWORD, STORED, settings),
    "unknown-email": lambda settings: security.burn_verify(PASSWORD, settings),
}


class Where:
    """Stands in for the hasher and records the thread each call runs in, and its nice."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def _record(self) -> None:
        self.calls.append((threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, 0)))

    def hash(self, password: str) -> str:
        self._record()
        return STORED

    def verify(self, password: str, password_hash: str) -> bool:
        self._record()
        return False

    def verify_and_update(self, password: str, password_hash: str) -> tuple[bool, str | None]:
        self._record()
        return True, None


@pytest.mark.parametrize("name", list(WORK))
async def test_every_hash_runs_in_a_hashing_thread_below_the_event_loop(
    hashing_settings: Settings, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    where = Where()
    monkeypatch.setattr(security, "_hasher", where)
    loop_nice = os.getpriority(os.PRIO_PROCESS, 0)

    await WORK[name](hashing_settings)

    assert where.calls
    for thread, nice in where.calls:
        assert thread.startswith(security.HASHING_THREAD)
        if sys.platform == "linux":
            assert nice == min(19, loop_nice + hashing_settings.password_hash_nice)


async def test_hashes_beyond_the_limit_wait_their_turn(hashing_settings: Settings) -> None:
    """With the one hashing thread busy, the next hash waits; it starts once that is free."""
    settings = hashing_settings.model_copy(update={"password_hash_concurrency": 1})
    threads = security.hashing_threads(1, settings.password_hash_nice)
    free = threading.Event()
    busy = asyncio.get_running_loop().run_in_executor(threads, free.wait)

    queued = asyncio.create_task(security.hash_password(PASSWORD, settings))
    for _ in range(100):
        await asyncio.sleep(0)
    assert not queued.done()

    free.set()
    assert await busy
    assert (await queued).startswith("$argon2id$")
