"""The production stack on one machine: NGINX in front of Gunicorn on a unix socket.

Starts, watches and stops both servers, with the configuration ``fastboard.nginx_conf``
renders. ``fastboard stack``, the stack tests and the benchmark all go through here, so
what they exercise is what ships. Standard library only: importing it loads neither the
app nor any server.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from fastboard.nginx_conf import (
    NGINX_UPSTREAM_KEEPALIVE_TIMEOUT,
    UNLIMITED,
    NginxError,
    RateLimits,
    check_nginx_conf,
    nginx_command,
    nginx_executable,
    render_nginx_conf,
    render_site_conf,
)

# The renderer's names are part of this module's interface too: callers that run the
# stack (the CLI, the tests, the benchmark) need only this module.
__all__ = [
    "GUNICORN_CONF",
    "NGINX_UPSTREAM_KEEPALIVE_TIMEOUT",
    "ROOT",
    "UNLIMITED",
    "WEB_ROOT",
    "NginxError",
    "RateLimits",
    "RunningStack",
    "StackError",
    "check_nginx_conf",
    "free_port",
    "gunicorn_command",
    "gunicorn_env",
    "http_ok",
    "nginx_command",
    "nginx_executable",
    "render_nginx_conf",
    "render_site_conf",
    "spawn",
    "start_stack",
    "stop_process",
    "supervise",
    "unix_socket_accepts",
    "wait_until",
]

ROOT = Path(__file__).resolve().parent.parent
DEPLOY_DIR = ROOT / "deploy"
GUNICORN_CONF = DEPLOY_DIR / "gunicorn.conf.py"
WEB_ROOT = ROOT / "web"

# sockaddr_un.sun_path holds 108 bytes on Linux, including the terminating NUL.
MAX_UNIX_SOCKET_PATH = 107


class StackError(RuntimeError):
    """A server of the stack could not be started; the message says what to fix."""


def gunicorn_command(app: str = "main:app") -> list[str]:
    return [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), app]


def settings_env(**settings: str) -> dict[str, str]:
    """This process's environment without any fastboard setting or metrics directory of
    its own, plus ``settings`` as ``FASTBOARD_<NAME>`` variables.

    What a server started by tests, the benchmark or a supervisor should see: only the
    configuration it is given, never leftovers from the caller's shell.
    """
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FASTBOARD_") and key != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update({f"FASTBOARD_{name.upper()}": value for name, value in settings.items()})
    return env


def gunicorn_env(
    *,
    bind: str | None = None,
    workers: int | None = None,
    metrics_dir: Path | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment for Gunicorn: settings for deploy/gunicorn.conf.py and the app.

    ``metrics_dir`` becomes PROMETHEUS_MULTIPROC_DIR unless the environment names one:
    without it each worker would answer /metrics with only its own share of the figures.

    The project root goes on PYTHONPATH (not ``--chdir``) so ``main:app`` imports from
    anywhere while relative paths such as the SQLite file stay relative to the caller's
    working directory, as they are for ``fastboard migrate``.
    """
    env = dict(os.environ if base is None else base)
    if bind is not None:
        env["FASTBOARD_BIND"] = bind
    if workers is not None:
        env["FASTBOARD_WORKERS"] = str(workers)
    if metrics_dir is not None:
        env.setdefault("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir.absolute()))
    paths = [str(ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def spawn(
    command: list[str],
    *,
    env: Mapping[str, str] | None = None,
    output: Path | None = None,
    cwd: Path | None = None,
) -> subprocess.Popen[bytes]:
    """Start a server in its own process group, logging to ``output`` or the terminal.

    Its own group: a Ctrl-C in the terminal reaches only the supervisor, which then stops
    each server with the signal that server treats as graceful.
    """
    if output is None:
        return subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, process_group=0
        )
    with output.open("ab") as log:
        return subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            process_group=0,
        )


def stop_process(process: subprocess.Popen[bytes], sig: int, timeout: float) -> int:
    """Signal a process and wait for it; SIGKILL when it outlives ``timeout``."""
    if process.poll() is None:
        process.send_signal(sig)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.wait()


def wait_until(
    ready: Callable[[], bool], *, timeout: float, watch: subprocess.Popen[bytes], what: str
) -> None:
    """Poll ``ready`` until true; fail fast if ``watch`` exits in the meantime."""
    deadline = time.monotonic() + timeout
    while not ready():
        if watch.poll() is not None:
            raise StackError(f"{what}: the process exited with status {watch.returncode}")
        if time.monotonic() > deadline:
            raise StackError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.05)


def unix_socket_accepts(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(str(path))
        except OSError:
            return False
    return True


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http only
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (another process could still take it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningStack:
    gunicorn: subprocess.Popen[bytes]
    nginx: subprocess.Popen[bytes]
    url: str
    socket: Path
    workdir: Path

    def in_stop_order(self) -> list[tuple[subprocess.Popen[bytes], signal.Signals, signal.Signals]]:
        """(process, graceful stop, quick stop): NGINX first, so requests it accepted can
        still be answered. Graceful is QUIT for NGINX but TERM for Gunicorn."""
        return [
            (self.nginx, signal.SIGQUIT, signal.SIGTERM),
            (self.gunicorn, signal.SIGTERM, signal.SIGQUIT),
        ]

    def stop(self, *, graceful: bool = True, timeout: float = 40.0) -> tuple[int, int]:
        """Stop NGINX, then Gunicorn; returns both exit statuses."""
        nginx_status, gunicorn_status = (
            stop_process(process, graceful_sig if graceful else quick_sig, timeout)
            for process, graceful_sig, quick_sig in self.in_stop_order()
        )
        return nginx_status, gunicorn_status


def start_stack(
    *,
    workdir: Path,
    port: int,
    workers: int,
    env: Mapping[str, str] | None = None,
    web_root: Path = WEB_ROOT,
    limits: RateLimits = RateLimits(),
    log_to_files: bool = True,
    boot_timeout: float = 30.0,
) -> RunningStack:
    """Render the configuration into ``workdir``, start Gunicorn, then NGINX; wait for both.

    Returns once ``/health`` answers through NGINX. With ``log_to_files``, output goes to
    ``workdir/logs/{gunicorn,nginx}.log``; otherwise to the terminal.
    """
    workdir = Path(workdir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    sock = workdir / "gunicorn.sock"
    if len(str(sock)) > MAX_UNIX_SOCKET_PATH:
        raise StackError(f"socket path too long for AF_UNIX ({len(str(sock))} bytes): {sock}")
    sock.unlink(missing_ok=True)
    nginx = nginx_executable()
    conf = render_nginx_conf(
        listen_port=port, upstream_socket=sock, web_root=web_root, workdir=workdir, limits=limits
    )
    check_nginx_conf(conf, nginx)
    app_env = gunicorn_env(
        bind=f"unix:{sock}", workers=workers, metrics_dir=workdir / "metrics", base=env
    )
    _write_env_file(workdir / "gunicorn.env", app_env)
    logs = workdir / "logs"
    gunicorn = spawn(
        gunicorn_command(), env=app_env, output=logs / "gunicorn.log" if log_to_files else None
    )
    try:
        wait_until(
            lambda: unix_socket_accepts(sock), timeout=boot_timeout, watch=gunicorn, what="gunicorn"
        )
        front = spawn(
            nginx_command(conf, nginx), output=logs / "nginx.log" if log_to_files else None
        )
    except BaseException:
        stop_process(gunicorn, signal.SIGQUIT, 10)
        raise
    stack = RunningStack(
        gunicorn=gunicorn, nginx=front, url=f"http://127.0.0.1:{port}", socket=sock, workdir=workdir
    )
    try:
        wait_until(
            lambda: http_ok(f"{stack.url}/health"), timeout=boot_timeout, watch=front, what="nginx"
        )
        if gunicorn.poll() is not None:
            raise StackError(f"gunicorn exited with status {gunicorn.returncode}")
    except BaseException:
        stack.stop(graceful=False, timeout=10)
        raise
    return stack


_ENV_FILE_KEYS = ("FASTBOARD_", "PROMETHEUS_MULTIPROC_DIR", "PYTHONPATH")
_SECRET_KEYS = ("FASTBOARD_SECRET_KEY",)


def _write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Record the settings Gunicorn ran with, secrets left out, for inspection."""
    lines = [
        f"{key}={value}"
        for key, value in sorted(env.items())
        if key.startswith(_ENV_FILE_KEYS) and key not in _SECRET_KEYS
    ]
    path.write_text(
        "# Environment of the Gunicorn master (secrets omitted)\n" + "\n".join(lines) + "\n"
    )


def supervise(stack: RunningStack, *, announce: IO[str] | None = None) -> int:
    """Run until a signal or a server exits; stop both cleanly. Returns an exit status.

    First SIGINT/SIGTERM: graceful stop. A second one: quick stop. SIGHUP: both servers
    reload (Gunicorn replaces its workers, NGINX re-reads its configuration).
    """
    received: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        received.append(signum)

    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, on_signal) for sig in handled}
    try:
        while True:
            while received and received[0] == signal.SIGHUP:
                received.pop(0)
                stack.gunicorn.send_signal(signal.SIGHUP)
                stack.nginx.send_signal(signal.SIGHUP)
            if received:
                break
            if stack.gunicorn.poll() is not None or stack.nginx.poll() is not None:
                _say(announce, "a server exited unexpectedly; stopping the stack")
                stack.stop(graceful=False, timeout=10)
                return 1
            time.sleep(0.1)
        _say(announce, "stopping gracefully (signal again to stop at once)")
        return _stop_in_order(stack, received)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_in_order(stack: RunningStack, received: list[int]) -> int:
    """NGINX first (it stops accepting and finishes what it proxies), then Gunicorn.

    A further SIGINT/SIGTERM switches whatever is still running to the quick stop.
    """

    def stop_requests() -> int:
        return sum(1 for sig in received if sig != signal.SIGHUP)

    seen = stop_requests()
    quick = False
    for process, graceful_sig, quick_sig in stack.in_stop_order():
        if process.poll() is None:
            process.send_signal(quick_sig if quick else graceful_sig)
        while process.poll() is None:
            if not quick and stop_requests() > seen:
                quick = True
                process.send_signal(quick_sig)
            time.sleep(0.1)
    return 0 if (stack.nginx.returncode, stack.gunicorn.returncode) == (0, 0) else 1


def _say(stream: IO[str] | None, message: str) -> None:
    if stream is not None:
        print(f"fastboard stack: {message}", file=stream, flush=True)
