"""Drive wrk (Debian package ``wrk``, 4.1) and read its figures.

Every run gets a small Lua script: ``request()`` rotates through the scenario's paths and
tokens when it has several (a static request otherwise, which wrk formats once), and
``done()`` prints one ``BENCH_RESULT {json}`` line with the exact figures: request count,
duration, latency percentiles in microseconds, status errors (wrk counts every response
with a status of 400 or more, its "Non-2xx or 3xx responses") and socket errors.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULT_MARKER = "BENCH_RESULT "
# What may appear inside a Lua string literal here: slugs, JWTs, paths and queries.
_SAFE = re.compile(r"^[A-Za-z0-9._~/?=&%+-]+$")

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,'
    .. '"p50_us":%d,"p75_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,'
    .. '"status_errors":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d}\\n',
    "RESULT_MARKER", summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean,
    e.status, e.connect, e.read, e.write, e.timeout))
end
""".replace("RESULT_MARKER", RESULT_MARKER)

_ROTATE = """
local paths = {PATHS}
local tokens = {TOKENS}
local n = 0
request = function()
  n = n + 1
  local headers = {}
  if #tokens > 0 then
    headers["Authorization"] = "Token " .. tokens[(n % #tokens) + 1]
  end
  return wrk.format("GET", paths[(n % #paths) + 1], headers)
end
"""


@dataclass(frozen=True, slots=True)
class Load:
    threads: int = 2
    connections: int = 32
    seconds: int = 10
    timeout_seconds: int = 5


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    label: str
    paths: tuple[str, ...]
    tokens: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Result:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx: int
    socket_errors: dict[str, int] = field(default_factory=dict)
    bytes_read: int = 0

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())


def _lua_list(values: tuple[str, ...]) -> str:
    for value in values:
        if not _SAFE.match(value):
            raise ValueError(f"refusing to put {value!r} into a Lua script")
    return "{" + ", ".join(f'"{value}"' for value in values) + "}"


def script_for(scenario: Scenario) -> str:
    if len(scenario.paths) == 1 and not scenario.tokens:
        return f'wrk.path = "{scenario.paths[0]}"\n' + _DONE
    rotate = _ROTATE.replace("{PATHS}", _lua_list(scenario.paths))
    return rotate.replace("{TOKENS}", _lua_list(scenario.tokens)) + _DONE


def parse(stdout: str) -> Result:
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            figures: dict[str, Any] = json.loads(line.removeprefix(RESULT_MARKER))
            break
    else:
        raise RuntimeError(f"no {RESULT_MARKER.strip()} line in wrk output:\n{stdout}")
    seconds = figures["duration_us"] / 1e6
    return Result(
        requests=figures["requests"],
        seconds=round(seconds, 2),
        rps=round(figures["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=figures["p50_us"] / 1000,
        p90_ms=figures["p90_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        max_ms=figures["max_us"] / 1000,
        non_2xx=figures["status_errors"],
        socket_errors={k: figures[k] for k in ("connect", "read", "write", "timeout")},
        bytes_read=figures["bytes"],
    )


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    return found


def run(base_url: str, scenario: Scenario, load: Load, workdir: Path) -> Result:
    """One bounded wrk run of ``scenario`` against ``base_url``."""
    script = workdir / f"{scenario.name}.lua"
    script.write_text(script_for(scenario))
    command = [
        wrk_binary(),
        f"-t{load.threads}",
        f"-c{load.connections}",
        f"-d{load.seconds}s",
        f"--timeout={load.timeout_seconds}s",
        "--latency",
        "-s",
        str(script),
        base_url,
    ]
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=load.seconds + 60, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed ({completed.returncode}): {completed.stderr.strip()}")
    return parse(completed.stdout)
