"""NGINX run unprivileged from a work directory: the development stack, the stack tests and
the benchmark. The site it serves is the package's (``fastboard.nginx_conf``); this adds
only the main context, written for a throwaway directory instead of /etc/nginx.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from fastboard.nginx_conf import NginxError, RateLimits, Tls, fill, render_site_conf

MAIN_TEMPLATE = Path(__file__).with_name("nginx.conf")

# For load tests and benchmarks, which send everything from one loopback address.
UNLIMITED = RateLimits(
    general="100000r/s",
    general_burst=100_000,
    auth="100000r/s",
    auth_burst=100_000,
    search="100000r/s",
    search_burst=100_000,
    connections=60_000,  # NGINX's most: 65,535
)


def _user_directive() -> str:
    if os.geteuid() != 0:
        return "# Unprivileged: the workers run as the invoking user."
    # A root master hands its workers to "nobody" unless told otherwise, and "nobody"
    # cannot read a private work directory or connect to the Gunicorn socket in it.
    return f"user {pwd.getpwuid(os.geteuid()).pw_name};"


def render_nginx_conf(
    *,
    listen_port: int,
    upstream_socket: Path,
    web_root: Path,
    workdir: Path,
    limits: RateLimits = RateLimits(),
    listen_host: str = "127.0.0.1",
    worker_processes: int | str = "auto",
    more_upstreams: Sequence[Path | str] = (),
    trusted_proxies: Sequence[str] = (),
    tls: Tls | None = None,
    acme_root: Path | None = None,
) -> Path:
    """Write a self-contained NGINX configuration into ``workdir``; returns ``nginx.conf``.

    Everything NGINX writes stays in ``workdir`` (``logs/``, ``tmp/``, the pid file), so
    it runs as any user. Start it with :func:`nginx_command`.
    """
    workdir = Path(workdir).absolute()
    for sub in ("logs", "tmp"):
        (workdir / sub).mkdir(parents=True, exist_ok=True)
    site = render_site_conf(
        listen=f"{listen_host}:{listen_port}",
        upstream_socket=upstream_socket,
        web_root=web_root,
        access_log=str(workdir / "logs" / "access.log"),
        limits=limits,
        more_upstreams=more_upstreams,
        trusted_proxies=trusted_proxies,
        tls=tls,
        acme_root=acme_root,
    )
    (workdir / "fastboard.conf").write_text(site)
    main = fill(
        MAIN_TEMPLATE.read_text(),
        {
            "workdir": workdir,
            "worker_processes": worker_processes,
            "user_directive": _user_directive(),
        },
    )
    conf = workdir / "nginx.conf"
    conf.write_text(main)
    return conf


def nginx_executable() -> str | None:
    """The nginx binary, also where an unprivileged PATH lacks the sbin directories."""
    found = shutil.which("nginx")
    if found:
        return found
    for candidate in ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def nginx_command(conf: Path, nginx: str | None = None, *, test_only: bool = False) -> list[str]:
    binary = nginx or nginx_executable()
    if binary is None:
        raise NginxError("nginx is not installed (Debian/Ubuntu: apt-get install nginx)")
    workdir = Path(conf).parent
    command = [
        binary,
        "-p",
        str(workdir),
        "-c",
        str(conf),
        "-e",
        str(workdir / "logs" / "error.log"),
    ]
    return [*command, "-t", "-q"] if test_only else command


def check_nginx_conf(conf: Path, nginx: str | None = None) -> None:
    """``nginx -t``: raises with NGINX's own message when the configuration is invalid."""
    result = subprocess.run(  # noqa: S603 - fixed argv, no shell
        nginx_command(conf, nginx, test_only=True), capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise NginxError(f"nginx rejected {conf}:\n{result.stderr.strip()}")
