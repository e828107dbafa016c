"""``fastboard serve``: Gunicorn with fastboard's configuration, started one of two ways.

Under systemd or in a container it replaces itself with Gunicorn (exec), so the master is
the main process and receives TERM and HUP directly. At a terminal it stays as a small
parent instead: Ctrl-C reaches the whole foreground process group, and Gunicorn takes
SIGINT as its quick stop (workers dropped mid-request, no application shutdown). The parent
runs Gunicorn in a process group of its own and turns Ctrl-C into TERM, the graceful stop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import FrameType

GUNICORN_CONF = "python:fastboard.gunicorn_conf"

# Passed on unchanged by the parent at a terminal: `kill -HUP <pid>` reloads whichever of
# the two processes it reaches.
FORWARDED = (
    signal.SIGTERM,
    signal.SIGHUP,
    signal.SIGQUIT,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


def gunicorn_command(app: str | None = None) -> list[str]:
    """Gunicorn with fastboard.gunicorn_conf; ``app`` replaces the configured app factory."""
    command = [sys.executable, "-m", "gunicorn", "-c", GUNICORN_CONF]
    return [*command, app] if app else command


def gunicorn_env(
    *,
    bind: str | None = None,
    workers: int | None = None,
    metrics_dir: Path | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for Gunicorn: settings for fastboard.gunicorn_conf and the app.

    ``metrics_dir`` becomes PROMETHEUS_MULTIPROC_DIR unless the environment names one:
    without it each worker would answer /metrics with only its own share of the figures.
    """
    env = dict(os.environ if base is None else base)
    if bind is not None:
        env["FASTBOARD_BIND"] = bind
    if workers is not None:
        env["FASTBOARD_WORKERS"] = str(workers)
    if metrics_dir is not None:
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir.absolute()))
    return env


def at_a_terminal() -> bool:
    return sys.stdin.isatty()


def exec_gunicorn(command: list[str], env: Mapping[str, str]) -> None:
    os.execve(command[0], command, env)  # noqa: S606 - fixed argv, no shell


def run_attached(command: list[str], env: Mapping[str, str]) -> int:
    """Run Gunicorn as a child until it exits. Ctrl-C: graceful stop (TERM); a second
    Ctrl-C: quick stop (QUIT). Returns Gunicorn's exit status."""
    master = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
        command, env=env, stdin=subprocess.DEVNULL, process_group=0
    )
    interrupts = 0

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal interrupts
        if signum == signal.SIGINT:
            interrupts += 1
            signum = signal.SIGTERM if interrupts == 1 else signal.SIGQUIT
        if master.poll() is None:
            master.send_signal(signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, *FORWARDED)}
    try:
        status = master.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status if status >= 0 else 128 - status
