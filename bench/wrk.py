"""Drive wrk (Debian package ``wrk``, 4.1) and read its figures.

Every run gets a small Lua script. A scenario of one anonymous GET sets ``wrk.path`` (a
static request, which wrk formats once). Any other scenario is a list of requests
(method, path, token, body): each wrk thread takes its own stripe of the list (requests
t, t+T, t+2T, … of T threads) and cycles through it, so two threads never send the same
write. ``done()`` prints one ``BENCH_RESULT {json}`` line with the exact figures: request
count, duration, latency percentiles in microseconds, status errors (wrk counts every
response with a status of 400 or more, its "Non-2xx or 3xx responses") and socket errors.
A scenario that needs to tell a 4xx from a 5xx also counts every status class in a
``response()`` hook (it costs wrk a Lua call per response, so only those scenarios do).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULT_MARKER = "BENCH_RESULT "
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")

# Threads register in the main Lua state (setup runs there), so done() can read the
# per-thread counters; each thread learns its index for its stripe of the request list.
_SETUP = """
local threads = {}
setup = function(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end
"""

_STRIPED = """
local mine = {}
local n = 0
init = function(args)
  for i = id + 1, #specs, THREADS do
    local s = specs[i]
    local headers = {}
    if s[3] > 0 then headers["Authorization"] = "Token " .. tokens[s[3]] end
    local body = nil
    if s[4] > 0 then
      body = bodies[s[4]]
      headers["Content-Type"] = "application/json"
    end
    mine[#mine + 1] = wrk.format(s[1], s[2], headers, body)
  end
end
request = function()
  n = n + 1
  return mine[((n - 1) % #mine) + 1]
end
"""

_STATUSES = """
s1, s2, s3, s4, s5 = 0, 0, 0, 0, 0
response = function(status, headers, body)
  if status >= 500 then s5 = s5 + 1
  elseif status >= 400 then s4 = s4 + 1
  elseif status >= 300 then s3 = s3 + 1
  elseif status >= 200 then s2 = s2 + 1
  else s1 = s1 + 1 end
end
"""

_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  local counted = {0, 0, 0, 0, 0}
  if COUNT_STATUSES then
    for _, thread in ipairs(threads) do
      for c = 1, 5 do counted[c] = counted[c] + (thread:get("s" .. c) or 0) end
    end
  end
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"bytes":%d,'
    .. '"p50_us":%d,"p75_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,'
    .. '"status_errors":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,'
    .. '"s1":%d,"s2":%d,"s3":%d,"s4":%d,"s5":%d}\\n',
    "RESULT_MARKER", summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean,
    e.status, e.connect, e.read, e.write, e.timeout,
    counted[1], counted[2], counted[3], counted[4], counted[5]))
end
""".replace("RESULT_MARKER", RESULT_MARKER)


@dataclass(frozen=True, slots=True)
class Load:
    threads: int = 2
    connections: int = 32
    seconds: int = 10
    timeout_seconds: int = 5


@dataclass(frozen=True, slots=True)
class Request:
    """One request of a scenario. ``kind`` names the answer it gets (the body the
    baselines send for it); ``body`` is JSON text, sent as ``application/json``."""

    kind: str
    method: str
    path: str
    token: str | None = None
    body: str | None = None


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    label: str
    requests: tuple[Request, ...]
    count_statuses: bool = False  # tell 2xx, 4xx and 5xx apart (a response() hook)


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
    # Per status class, when the scenario counts them (else empty).
    statuses: dict[str, int] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())

    @property
    def ok_rps(self) -> float:
        """Successful answers per second: 2xx when counted, else every status below 400
        (wrk cannot tell 2xx from 3xx; no scenario here is answered with a redirect)."""
        ok = self.statuses["2xx"] if self.statuses else self.requests - self.non_2xx
        return round(ok / self.seconds, 1) if self.seconds else 0.0

    @property
    def server_errors(self) -> int | None:
        return self.statuses["5xx"] if self.statuses else None


def lua_string(value: str) -> str:
    """A Lua string literal for ``value``: anything but plain printable ASCII escaped."""
    out = []
    for byte in value.encode():
        char = chr(byte)
        if 0x20 <= byte < 0x7F and char not in '"\\':
            out.append(char)
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def _static(scenario: Scenario) -> Request | None:
    """The one request wrk can format once, if that is all the scenario sends."""
    if len(scenario.requests) != 1 or scenario.count_statuses:
        return None
    only = scenario.requests[0]
    if only.method != "GET" or only.token or only.body:
        return None
    return only


def script_for(scenario: Scenario, threads: int) -> str:
    static = _static(scenario)
    if static is not None:
        return f"local threads = {{}}\nwrk.path = {lua_string(static.path)}\n" + _done(False)
    tokens: dict[str, int] = {}
    bodies: dict[str, int] = {}
    specs = []
    requests = scenario.requests
    while len(requests) < threads:  # every thread needs a stripe of its own
        requests += scenario.requests
    for request in requests:
        token = tokens.setdefault(request.token, len(tokens) + 1) if request.token else 0
        body = bodies.setdefault(request.body, len(bodies) + 1) if request.body else 0
        specs.append(
            f"{{{lua_string(request.method)}, {lua_string(request.path)}, {token}, {body}}}"
        )
    parts = [
        _SETUP,
        f"local THREADS = {threads}",
        "local tokens = {" + ", ".join(lua_string(t) for t in tokens) + "}",
        "local bodies = {" + ", ".join(lua_string(b) for b in bodies) + "}",
        "local specs = {\n" + ",\n".join(specs) + "\n}",
        _STRIPED,
    ]
    if scenario.count_statuses:
        parts.append(_STATUSES)
    return "\n".join(parts) + _done(scenario.count_statuses)


def _done(count_statuses: bool) -> str:
    return _DONE.replace("COUNT_STATUSES", "true" if count_statuses else "false")


def parse(stdout: str, *, count_statuses: bool = False) -> Result:
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            figures: dict[str, Any] = json.loads(line.removeprefix(RESULT_MARKER))
            break
    else:
        raise RuntimeError(f"no {RESULT_MARKER.strip()} line in wrk output:\n{stdout}")
    seconds = figures["duration_us"] / 1e6
    counted = {name: figures[f"s{index + 1}"] for index, name in enumerate(STATUS_CLASSES)}
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
        statuses=counted if count_statuses else {},
    )


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    return found


class Running:
    """A wrk run in the background (the login flood runs beside the measured load)."""

    def __init__(self, base_url: str, scenario: Scenario, load: Load, workdir: Path) -> None:
        script = workdir / f"{scenario.name}.lua"
        script.write_text(script_for(scenario, load.threads))
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
        self.seconds = load.seconds
        self.count_statuses = scenario.count_statuses
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def result(self) -> Result:
        """Wait for wrk to finish and read its figures."""
        try:
            stdout, stderr = self.process.communicate(timeout=self.seconds + 60)
        except subprocess.TimeoutExpired:
            self.stop()
            raise
        if self.process.returncode != 0:
            raise RuntimeError(f"wrk failed ({self.process.returncode}): {stderr.strip()}")
        return parse(stdout, count_statuses=self.count_statuses)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def run(base_url: str, scenario: Scenario, load: Load, workdir: Path) -> Result:
    """One bounded wrk run of ``scenario`` against ``base_url``."""
    running = Running(base_url, scenario, load, workdir)
    try:
        return running.result()
    finally:
        running.stop()
