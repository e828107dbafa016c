"""What the numbers were measured on: software versions, CPUs, and how busy the machine was.

The load generator, the servers, NGINX and PostgreSQL share one machine; anything else
running at the same time (a test suite, a build) takes CPU from all of them. Before each
target starts, ``background_load`` samples ``/proc/stat`` while none of the benchmark's
processes run, so a noisy run can be recognised as such in the report.
"""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib.metadata import version

PACKAGES = (
    "fastapi", "starlette", "pydantic", "sqlalchemy", "asyncpg", "uvicorn", "gunicorn",
    "uvicorn-worker", "uvloop", "httptools",
)  # fmt: skip
# Above this share of the CPUs busy with other work, figures are flagged as unreliable.
NOISY_BACKGROUND = 0.15


def cpus() -> int:
    return len(os.sched_getaffinity(0))


def _cpu_ticks() -> tuple[int, int]:
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle, sum(fields[:8])


def background_load(seconds: float = 1.0, *, settle: float = 0.5) -> float:
    """The share of all CPUs busy over ``seconds`` (0.0 on a quiet machine).

    ``settle`` first lets a server that was just loaded finish what it had queued.
    """
    time.sleep(settle)
    busy_before, total_before = _cpu_ticks()
    time.sleep(seconds)
    busy_after, total_after = _cpu_ticks()
    elapsed = total_after - total_before
    return (busy_after - busy_before) / elapsed if elapsed else 0.0


def first_line(command: list[str]) -> str:
    """A tool's self-description (``wrk -v``, ``nginx -v``), whichever stream it uses."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "unavailable"
    lines = (done.stdout + done.stderr).strip().splitlines()
    return lines[0] if lines else "unknown"


def software(*, wrk: str, nginx: str) -> dict[str, object]:
    return {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": cpus(),
        "load_average": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": {name: version(name) for name in PACKAGES},
        "wrk": first_line([wrk, "-v"]),
        "nginx": first_line([nginx, "-v"]),
        "git": first_line(["git", "describe", "--always", "--dirty"]),
    }


def wait_for_quiet(max_seconds: float, *, threshold: float = NOISY_BACKGROUND) -> float:
    """Wait up to ``max_seconds`` for other work to leave the CPUs; returns the last reading."""
    deadline = time.monotonic() + max_seconds
    busy = background_load(1.0, settle=0.0)
    while busy > threshold and time.monotonic() < deadline:
        busy = background_load(2.0, settle=0.0)
    return busy
