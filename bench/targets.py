"""The five servers under test, each a context manager that yields its base URL.

Process handling is ``dev.stack``'s (spawn in its own process group, readiness
polling, graceful stop, the NGINX rendering), so the benchmark starts exactly what
``fastboard serve`` and ``make stack`` start. Everything listens on 127.0.0.1 only,
on a free port, and is stopped when the ``with`` block ends, also on error or Ctrl-C.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from dev import stack
from dev.nginx import UNLIMITED
from fastboard.serve import gunicorn_command, gunicorn_env

HOST = "127.0.0.1"
BOOT_TIMEOUT = 60.0
STOP_TIMEOUT = 40.0

Starter = Callable[[Mapping[str, str], Path, int], AbstractContextManager[str]]


@dataclass(frozen=True, slots=True)
class TargetSpec:
    key: str
    label: str
    start: Starter
    fastboard: bool  # serves the real app (so needs the database), not a baseline


@contextmanager
def _running(
    name: str, command: list[str], env: Mapping[str, str], workdir: Path, url: str
) -> Iterator[str]:
    log = workdir / f"{name}.log"
    process = stack.spawn(command, env=env, output=log)
    try:
        stack.wait_until(
            lambda: stack.http_ok(f"{url}/health"),
            timeout=BOOT_TIMEOUT,
            watch=process,
            what=f"{name} (log: {log})",
        )
        yield url
    finally:
        # TERM is graceful for both Gunicorn and Uvicorn; KILL after the timeout.
        stack.stop_process(process, signal.SIGTERM, STOP_TIMEOUT)


@contextmanager
def gunicorn_direct(
    app: str, name: str, env: Mapping[str, str], workdir: Path, workers: int
) -> Iterator[str]:
    """fastboard.gunicorn_conf with fastboard's worker class, bound to a loopback port."""
    port = stack.free_port(HOST)
    server_env = gunicorn_env(bind=f"{HOST}:{port}", workers=workers, base=env)
    with _running(name, gunicorn_command(app), server_env, workdir, f"http://{HOST}:{port}") as url:
        yield url


@contextmanager
def uvicorn_direct(env: Mapping[str, str], workdir: Path, workers: int) -> Iterator[str]:
    """Uvicorn's own process manager (``--workers``), the way fastboard runs without
    Gunicorn (Windows, simple containers): same loop, parser and keep-alive as the worker."""
    port = stack.free_port(HOST)
    command = [
        sys.executable, "-m", "uvicorn", "main:app",
        "--host", HOST, "--port", str(port), "--workers", str(workers),
        "--loop", "uvloop", "--http", "httptools", "--lifespan", "on",
        "--timeout-keep-alive", "75", "--no-server-header", "--no-access-log",
        "--log-level", "warning",
    ]  # fmt: skip
    with _running("uvicorn", command, env, workdir, f"http://{HOST}:{port}") as url:
        yield url


@contextmanager
def behind_nginx(env: Mapping[str, str], workdir: Path, workers: int) -> Iterator[str]:
    """``make stack``: NGINX on a loopback port → unix socket → Gunicorn.

    Rate limits are lifted (every request comes from one address); everything else is
    the shipped configuration, access log included.
    """
    running = stack.start_stack(
        workdir=workdir / "stack",
        port=stack.free_port(HOST),
        workers=workers,
        env=env,
        limits=UNLIMITED,
        log_to_files=True,
        boot_timeout=BOOT_TIMEOUT,
    )
    try:
        yield running.url
    finally:
        running.stop(graceful=True, timeout=STOP_TIMEOUT)


def _gunicorn(app: str, name: str) -> Starter:
    def start(env: Mapping[str, str], workdir: Path, workers: int) -> AbstractContextManager[str]:
        return gunicorn_direct(app, name, env, workdir, workers)

    return start


TARGETS = (
    TargetSpec("bare", "(1) bare ASGI", _gunicorn("bench.baselines:bare_app()", "bare"), False),
    TargetSpec(
        "fastapi", "(2) FastAPI floor", _gunicorn("bench.baselines:fastapi_app()", "fastapi"), False
    ),
    TargetSpec("uvicorn", "(3) fastboard/Uvicorn", uvicorn_direct, True),
    TargetSpec("gunicorn", "(4) fastboard/Gunicorn", _gunicorn("main:app", "gunicorn"), True),
    TargetSpec("nginx", "(5) fastboard/NGINX", behind_nginx, True),
)
