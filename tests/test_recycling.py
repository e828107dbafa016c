"""When a worker retires, and the turn that lets workers retire one at a time."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator

import pytest

from fastboard.recycling import AGE_JITTER, MIB, RecyclePolicy, RecycleTurns, resident_bytes


def test_no_limit_no_reason() -> None:
    policy = RecyclePolicy.build(max_requests=None, max_memory_mb=0, max_age_seconds=0)
    assert policy == RecyclePolicy()
    assert policy.reason(requests=10**9, rss_bytes=10**12, age_seconds=10**9) is None


def test_each_limit_is_a_reason_once_reached() -> None:
    policy = RecyclePolicy(max_requests=100, max_rss_bytes=512 * MIB, max_age_seconds=3600)
    fine = {"requests": 99, "rss_bytes": 511 * MIB, "age_seconds": 3599.0}
    assert policy.reason(**fine) is None  # type: ignore[arg-type]
    assert "request limit of 100" in str(policy.reason(**{**fine, "requests": 100}))  # type: ignore[arg-type]
    by_memory = policy.reason(**{**fine, "rss_bytes": 600 * MIB})  # type: ignore[arg-type]
    assert by_memory == "Memory limit of 512 MiB reached (resident: 600 MiB)"
    assert "age of 3600 s" in str(policy.reason(**{**fine, "age_seconds": 3600.0}))  # type: ignore[arg-type]
    # Memory unknown on this platform: that limit cannot apply.
    assert policy.reason(**{**fine, "rss_bytes": None}) is None  # type: ignore[arg-type]


def test_age_limits_are_spread_so_workers_started_together_retire_apart() -> None:
    rng = random.Random(7)
    ages = {
        RecyclePolicy.build(
            max_requests=None, max_memory_mb=0, max_age_seconds=3600, rng=rng
        ).max_age_seconds
        for _ in range(20)
    }
    assert len(ages) == 20
    assert all(age is not None and 3600 <= age <= 3600 * (1 + AGE_JITTER) for age in ages)


def test_resident_memory_is_this_process_size() -> None:
    before = resident_bytes()
    assert before is not None
    assert before > MIB
    ballast = bytearray(64 * MIB)
    after = resident_bytes()
    assert after is not None
    assert after > before + 32 * MIB
    del ballast


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


@pytest.fixture
def turns() -> Iterator[RecycleTurns]:
    made = RecycleTurns.create(stale_after=3600)
    yield made
    made.close()


def test_one_worker_retires_at_a_time(turns: RecycleTurns) -> None:
    assert turns.take(101)
    assert not turns.take(102)  # the first is still draining (or its replacement booting)
    assert turns.take(101)  # asking again is harmless


def test_the_turn_passes_once_a_newer_worker_serves_and_the_holder_is_gone(
    turns: RecycleTurns,
) -> None:
    draining = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert turns.take(draining.pid)
        # A worker that starts serving while the retiring one still drains (a crashed
        # worker's replacement, say) does not end its turn...
        turns.serving(103)
        assert turns.holder() == draining.pid
        assert not turns.take(102)
    finally:
        draining.kill()
        draining.wait()
    # ...the first to serve after it has exited does.
    turns.serving(104)
    assert turns.holder() == 0
    assert turns.take(102)


def test_a_turn_whose_replacement_never_came_expires() -> None:
    turns = RecycleTurns.create(stale_after=0.0)
    try:
        assert turns.take(dead_pid())
        assert turns.take(102)
    finally:
        turns.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="workers are forked")
def test_workers_forked_from_the_master_share_the_turn(turns: RecycleTurns) -> None:
    pid = os.fork()
    if pid == 0:  # a worker takes the turn and exits (the status says whether it got it)
        os._exit(0 if turns.take(os.getpid()) else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert turns.holder() == pid
    # Its lock went with it; the record stays until a newer worker serves.
    assert not turns.take(os.getpid())
    turns.serving(os.getpid())
    assert turns.take(os.getpid())
