"""Looking at the Gunicorn process tree from outside, as an operator would (Linux /proc)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator, Mapping, Set
from contextlib import contextmanager
from pathlib import Path

from dev.stack import http_ok, spawn, stop_process, wait_until
from tests.stack.waiting import until


@contextmanager
def serving(
    command: list[str],
    *,
    probe: str,
    output: Path,
    boot_timeout: float,
    stop: signal.Signals,
    stop_timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """A server started from ``command``, once ``probe`` answers; stopped on the way out
    with ``stop`` (whatever the test did to it meanwhile)."""
    process = spawn(command, env=env, output=output, cwd=cwd)
    try:
        wait_until(lambda: http_ok(probe), timeout=boot_timeout, watch=process, what=command[0])
        yield process
    finally:
        stop_process(process, stop, stop_timeout)


def children(pid: int) -> set[int]:
    """PIDs whose parent is ``pid``: a Gunicorn master's children are its workers."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process ended while we looked
            continue
        # Fields after the command name, which is in parentheses and may contain spaces.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def wait_for_workers(
    master: int, count: int, *, excluding: Set[int] = frozenset()
) -> set[int]:
    """Wait until the master has exactly ``count`` workers, none of them in ``excluding``."""

    def settled() -> bool:
        workers = children(master)
        return len(workers) == count and not workers & excluding

    await until(settled)
    return children(master)
