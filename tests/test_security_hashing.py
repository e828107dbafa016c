"""Password hashing cost and its bound: Argon2id at OWASP's minimum or above, and at most
``password_hash_concurrency`` hashes at once per worker, the rest waiting off the thread pool."""

from __future__ import annotations

import asyncio
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


def test_hash_concurrency_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="password_hash_concurrency"):
        make_settings("sqlite+aiosqlite:///unused.db", tmp_path, password_hash_concurrency=0)


Work = Callable[[Settings, str], Coroutine[Any, Any, object]]
WORK: dict[str, Work] = {
    "hash": lambda settings, _stored: security.hash_password(PASSWORD, settings),
    "verify": lambda settings, stored: security.verify_and_update(PASSWORD, stored, settings),
    "unknown-email": lambda settings, _stored: security.burn_verify(PASSWORD, settings),
}


@pytest.mark.parametrize("name", list(WORK))
async def test_every_hash_queues_in_the_limiter(hashing_settings: Settings, name: str) -> None:
    stored = await security.hash_password(PASSWORD, hashing_settings)
    await security.burn_verify(PASSWORD, hashing_settings)  # makes the equaliser's dummy hash
    limiter = security.hashing_limiter(hashing_settings.password_hash_concurrency)
    await limiter.acquire()
    try:
        queued = asyncio.create_task(WORK[name](hashing_settings, stored))
        for _ in range(1000):
            if limiter.statistics().tasks_waiting:
                break
            await asyncio.sleep(0)
        assert limiter.statistics().tasks_waiting == 1
        assert not queued.done()
    finally:
        limiter.release()
    await queued
    assert limiter.borrowed_tokens == 0


def test_each_limit_is_one_limiter_per_process() -> None:
    assert security.hashing_limiter(3) is security.hashing_limiter(3)
    assert security.hashing_limiter(3).total_tokens == 3
    assert security.hashing_limiter(2) is not security.hashing_limiter(3)
