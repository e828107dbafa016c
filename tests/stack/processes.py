"""Looking at the Gunicorn process tree from outside, as an operator would (Linux /proc)."""

from __future__ import annotations

import os
from collections.abc import Set
from pathlib import Path

from tests.stack.waiting import until


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
