"""The production stack on one machine, for development: NGINX in front of Gunicorn on a
unix socket. ``make stack`` (``python -m dev.stack``), the stack tests and the benchmark
start, watch and stop both servers through here, with the configuration the package ships
(``fastboard.nginx_conf``, ``fastboard.gunicorn_conf``), so what they exercise is what ships.

Development tooling, not part of the installed package: a server runs Gunicorn through
``fastboard serve`` and its own NGINX with the site from ``fastboard nginx-conf``.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO

from sqlalchemy.exc import ArgumentError

from dev.nginx import check_nginx_conf, nginx_command, nginx_executable, render_nginx_conf
from fastboard.cli import migrated_once
from fastboard.nginx_conf import NginxError, RateLimits, Tls, settings_from_env
from fastboard.preflight import masked_url
from fastboard.resources import web_root
from fastboard.serve import gunicorn_command, gunicorn_env
from fastboard.settings import get_settings

# sockaddr_un.sun_path holds 108 bytes on Linux, including the terminating NUL.
MAX_UNIX_SOCKET_PATH = 107


class StackError(RuntimeError):
    """A server of the stack could not be started; the message says what to fix."""


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


def http_ok(url: str, *, cafile: Path | None = None) -> bool:
    """A 200 from ``url``; over HTTPS, with a certificate ``cafile`` vouches for."""
    context = ssl.create_default_context(cafile=cafile) if cafile else None
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as response:  # noqa: S310
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
    # More Gunicorn instances behind the same NGINX upstream, as other hosts would be
    # (``start_stack(hosts=…)``): (process, socket), logging to ``gunicorn<n>.log``.
    more: list[tuple[subprocess.Popen[bytes], Path]] = field(default_factory=list)
    # With TLS: ``url`` is the HTTPS server, and this the plain-HTTP one that redirects.
    http_url: str | None = None

    def in_stop_order(self) -> list[tuple[subprocess.Popen[bytes], signal.Signals, signal.Signals]]:
        """(process, graceful stop, quick stop): NGINX first, so requests it accepted can
        still be answered. Graceful is QUIT for NGINX but TERM for Gunicorn."""
        return [
            (self.nginx, signal.SIGQUIT, signal.SIGTERM),
            (self.gunicorn, signal.SIGTERM, signal.SIGQUIT),
            *((process, signal.SIGTERM, signal.SIGQUIT) for process, _ in self.more),
        ]

    def stop(self, *, graceful: bool = True, timeout: float = 40.0) -> tuple[int, int]:
        """Stop NGINX, then Gunicorn; returns both exit statuses (the first Gunicorn's)."""
        nginx_status, gunicorn_status, *_ = (
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
    web: Path | None = None,
    limits: RateLimits = RateLimits(),
    log_to_files: bool = True,
    boot_timeout: float = 30.0,
    hosts: int = 1,
    more_upstreams: Sequence[str] = (),
    trusted_proxies: Sequence[str] = (),
    tls: Tls | None = None,
    acme_root: Path | None = None,
) -> RunningStack:
    """Render the configuration into ``workdir``, start Gunicorn, then NGINX; wait for both.

    Returns once ``/health`` answers through NGINX. With ``log_to_files``, output goes to
    ``workdir/logs/{gunicorn,nginx}.log``; otherwise to the terminal. ``hosts`` > 1 starts
    that many Gunicorn instances (``gunicorn<n>.sock``, their own metrics directories),
    all in NGINX's upstream, as separate hosts sharing the database and Redis would be.
    With ``tls`` (its ``listen`` a loopback ``host:port``), ``url`` is HTTPS, probed with
    the certificate itself as the trusted authority (self-signed), and ``port`` redirects.
    """
    workdir = Path(workdir).absolute()
    workdir.mkdir(parents=True, exist_ok=True)
    sock = workdir / "gunicorn.sock"
    if len(str(sock)) > MAX_UNIX_SOCKET_PATH:
        raise StackError(f"socket path too long for AF_UNIX ({len(str(sock))} bytes): {sock}")
    sock.unlink(missing_ok=True)
    more_sockets = [workdir / f"gunicorn{n}.sock" for n in range(2, hosts + 1)]
    for extra in more_sockets:
        extra.unlink(missing_ok=True)
    nginx = nginx_executable()
    conf = render_nginx_conf(
        listen_port=port,
        upstream_socket=sock,
        web_root=web or web_root(),
        workdir=workdir,
        limits=limits,
        more_upstreams=[*more_sockets, *more_upstreams],
        trusted_proxies=trusted_proxies,
        tls=tls,
        acme_root=acme_root,
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
    more: list[tuple[subprocess.Popen[bytes], Path]] = []
    try:
        for n, extra in enumerate(more_sockets, start=2):
            host_env = {**app_env, "FASTBOARD_BIND": f"unix:{extra}"}
            # Another host: figures of its own, never added to the first one's.
            host_env["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / f"metrics{n}")
            output = logs / f"gunicorn{n}.log" if log_to_files else None
            more.append((spawn(gunicorn_command(), env=host_env, output=output), extra))
        for process, path in [(gunicorn, sock), *more]:
            wait_until(
                partial(unix_socket_accepts, path),
                timeout=boot_timeout,
                watch=process,
                what="gunicorn",
            )
        front = spawn(
            nginx_command(conf, nginx), output=logs / "nginx.log" if log_to_files else None
        )
    except BaseException:
        for process in [gunicorn, *(process for process, _ in more)]:
            stop_process(process, signal.SIGQUIT, 10)
        raise
    http_url = f"http://127.0.0.1:{port}"
    stack = RunningStack(
        gunicorn=gunicorn,
        nginx=front,
        url=f"https://{tls.listen}" if tls else http_url,
        socket=sock,
        workdir=workdir,
        more=more,
        http_url=http_url if tls else None,
    )
    cafile = tls.cert if tls else None
    try:
        wait_until(
            lambda: http_ok(f"{stack.url}/health", cafile=cafile),
            timeout=boot_timeout,
            watch=front,
            what="nginx",
        )
        if gunicorn.poll() is not None:
            raise StackError(f"gunicorn exited with status {gunicorn.returncode}")
    except BaseException:
        stack.stop(graceful=False, timeout=10)
        raise
    return stack


_ENV_FILE_KEYS = ("FASTBOARD_", "PROMETHEUS_MULTIPROC_DIR")
_SECRET_KEYS = ("FASTBOARD_SECRET_KEY",)


def _shown(key: str, value: str) -> str:
    """A setting as the env file may show it: URLs without their password."""
    if not key.endswith("_URL"):
        return value
    try:
        return masked_url(value)
    except ArgumentError:
        return "(not a URL; omitted)"


def _write_env_file(path: Path, env: Mapping[str, str]) -> None:
    """Record the settings Gunicorn ran with, for inspection: secrets left out, passwords
    in URLs masked, and readable by the owner only all the same."""
    lines = [
        f"{key}={_shown(key, value)}"
        for key, value in sorted(env.items())
        if key.startswith(_ENV_FILE_KEYS) and key not in _SECRET_KEYS
    ]
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write("# Environment of the Gunicorn master (secrets omitted)\n")
        file.write("\n".join(lines) + "\n")


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
        print(f"stack: {message}", file=stream, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """``make stack``: migrate once, start both servers, supervise them until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="python -m dev.stack", description="NGINX in front of Gunicorn, as in production."
    )
    parser.add_argument("--port", type=int, default=8080, help="NGINX port on 127.0.0.1")
    parser.add_argument("--workers", type=int, default=2, help="Gunicorn workers (default 2)")
    parser.add_argument("--workdir", type=Path, default=Path("var/stack"))
    parser.add_argument("--no-migrate", action="store_true", help="skip the migration")
    parser.add_argument(
        "--tls-port",
        type=int,
        default=8443,
        help="HTTPS port on 127.0.0.1 when FASTBOARD_NGINX_TLS_CERT/_KEY are set (default 8443)",
    )
    args = parser.parse_args(argv)

    try:
        # The site's settings are fastboard nginx-conf's: FASTBOARD_NGINX_* variables.
        site = settings_from_env(os.environ)
    except NginxError as exc:
        print(f"dev.stack: {exc}", file=sys.stderr)
        return 2
    tls = site.tls and Tls(site.tls.cert, site.tls.key, listen=f"127.0.0.1:{args.tls_port}")
    env = migrated_once(get_settings(), migrate=not args.no_migrate)
    try:
        running = start_stack(
            workdir=args.workdir,
            port=args.port,
            workers=args.workers,
            env=env,
            log_to_files=False,
            limits=site.limits,
            more_upstreams=site.more_upstreams,
            trusted_proxies=site.trusted_proxies,
            tls=tls,
            acme_root=site.acme_root,
        )
    except (StackError, NginxError) as exc:
        print(f"dev.stack: {exc}", file=sys.stderr)
        return 1
    print(
        f"stack: {running.url} → NGINX → unix:{running.socket} → Gunicorn "
        f"({args.workers} workers). NGINX logs in {running.workdir / 'logs'}. "
        "Ctrl-C stops, HUP reloads.",
        file=sys.stderr,
        flush=True,
    )
    return supervise(running, announce=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
