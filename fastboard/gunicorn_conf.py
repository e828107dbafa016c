"""Gunicorn settings for fastboard: ``gunicorn -c python:fastboard.gunicorn_conf``.

A module of the package, so an installed wheel can serve; ``fastboard serve`` runs Gunicorn
with it. Every knob is an environment variable, read when Gunicorn loads this module (as
Gunicorn reads any configuration file), so systemd units, containers and the stack tests
share this one file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastboard.logs import gunicorn_logconfig
from fastboard.settings import get_settings


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def _default_workers() -> int:
    # sched_getaffinity honours CPU pinning and container cpusets; cpu_count does not.
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return 2 * (cores or 1) + 1


# The app factory, called in each worker after the fork (Gunicorn's "module:callable()").
wsgi_app = "fastboard.app:create_app()"
worker_class = "fastboard.worker.UvicornWorker"
workers = _int_env("FASTBOARD_WORKERS", _default_workers())
# "unix:/run/fastboard/gunicorn.sock" behind NGINX; "127.0.0.1:8000" alone. Comma-separated
# values bind several listeners.
bind = [
    b.strip() for b in os.environ.get("FASTBOARD_BIND", "127.0.0.1:8000").split(",") if b.strip()
]
proc_name = os.environ.get("FASTBOARD_PROC_NAME", "fastboard")


def _control_socket() -> str | None:
    """Where ``gunicornc`` reaches this master: FASTBOARD_CONTROL_SOCKET, else beside a
    unix bind socket (/run/fastboard/gunicorn.ctl), else nowhere.

    Gunicorn's default is one path per user ($HOME/.gunicorn/gunicorn.ctl), which every
    master on the host then fights over, so a command could reach the wrong instance.
    """
    if explicit := os.environ.get("FASTBOARD_CONTROL_SOCKET"):
        return explicit
    for address in bind:
        if address.startswith("unix:"):
            return str(Path(address.removeprefix("unix:")).with_name("gunicorn.ctl"))
    return None


control_socket = _control_socket() or ""
control_socket_disable = control_socket == ""

# Idle keep-alive, passed on to Uvicorn by the worker. Must exceed NGINX's upstream
# keepalive_timeout (fastboard.nginx_conf.NGINX_UPSTREAM_KEEPALIVE_TIMEOUT) so that NGINX,
# not the worker, is always the side that closes an idle connection (else: random 502s).
keepalive = _int_env("FASTBOARD_KEEPALIVE", 75)
# After TERM/HUP (or when a worker retires), workers get this long to finish in-flight
# requests and drain their keep-alive connections before SIGKILL. The worker derives
# Uvicorn's own deadline from it, 5 s shorter, so the lifespan shutdown (closing the
# database pool) still runs inside this window.
graceful_timeout = _int_env("FASTBOARD_GRACEFUL_TIMEOUT", 30)
# A worker whose event loop stays blocked this long (no heartbeat) is killed and replaced.
timeout = _int_env("FASTBOARD_TIMEOUT", 30)
# Workers retire so that a slow leak never becomes an outage: on memory and age by
# default (FASTBOARD_MAX_WORKER_MEMORY_MB, FASTBOARD_MAX_WORKER_AGE_SECONDS in
# fastboard.settings), one at a time (fastboard.worker.RecyclingServer). A request count is
# off by default: it says nothing of memory, and at a few thousand requests a second any
# count worth setting retires every worker every few seconds. The jitter spreads workers.
max_requests = _int_env("FASTBOARD_MAX_REQUESTS", 0)
max_requests_jitter = _int_env("FASTBOARD_MAX_REQUESTS_JITTER", max(max_requests // 10, 0))

# The heartbeat file is touched constantly; on a disk-backed /tmp that can stall a worker
# long enough to be killed as hung.
worker_tmp_dir = "/dev/shm" if Path("/dev/shm").is_dir() else None  # noqa: S108

# Only NGINX may set X-Forwarded-For/-Proto. Unix-socket peers (NGINX on the same host)
# are always trusted: see fastboard.worker.TrustedProxyHeaders.
forwarded_allow_ips = os.environ.get("FASTBOARD_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

# Not preloaded: each worker imports the app after the fork. The app keeps per-process
# state (engine, pool, event-loop-bound clients) that must never be shared across a fork,
# and a HUP then reloads new code, which a preloaded master could not.
preload_app = False

loglevel = os.environ.get("FASTBOARD_LOG_LEVEL", "info").lower()
errorlog = os.environ.get("FASTBOARD_ERROR_LOG", "-")
# The app logs each request itself (with the request id); Gunicorn's access log is opt-in.
accesslog = os.environ.get("FASTBOARD_ACCESS_LOG") or None
pidfile = os.environ.get("FASTBOARD_PIDFILE") or None

# Invalid settings (say, production without a secret key) stop the master right here,
# before any worker is forked, with the validation message.
logconfig_dict = gunicorn_logconfig(get_settings())


def _multiprocess_dir() -> Path | None:
    value = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(value) if value else None


def on_starting(server: Any) -> None:
    """Start every master with an empty metrics directory.

    Files left by a previous run would be summed into the new one's counters.
    """
    directory = _multiprocess_dir()
    if directory is None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()


def child_exit(server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges, which would otherwise be reported forever."""
    if _multiprocess_dir() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
