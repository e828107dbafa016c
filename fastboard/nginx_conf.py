"""The NGINX configuration: rendered from the templates in ``deploy/nginx/``.

One renderer for every place NGINX runs: ``fastboard nginx-conf`` (a site file for a
server's conf.d/), ``fastboard stack``, the stack tests and the benchmark (a complete,
unprivileged configuration in a work directory). Standard library only.
"""

from __future__ import annotations

import math
import os
import pwd
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

NGINX_TEMPLATES = Path(__file__).resolve().parent.parent / "deploy" / "nginx"

# NGINX closes an idle upstream connection after this long (``keepalive_timeout`` in the
# ``upstream`` block). Gunicorn's keepalive must be longer, or a worker may close a
# connection at the very moment NGINX sends a request on it: a 502 no retry explains.
NGINX_UPSTREAM_KEEPALIVE_TIMEOUT = 60

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class NginxError(RuntimeError):
    """NGINX is missing, or a template or the rendered configuration is wrong."""


@dataclass(frozen=True)
class RateLimits:
    """NGINX request rates per client address (``rate`` syntax: ``20r/s``, ``10r/m``)."""

    general: str = "20r/s"
    general_burst: int = 40
    auth: str = "10r/m"
    auth_burst: int = 5


# For load tests and benchmarks, which send everything from one loopback address.
UNLIMITED = RateLimits(
    general="100000r/s", general_burst=100_000, auth="100000r/s", auth_burst=100_000
)


def retry_after_seconds(rate: str) -> int:
    """Seconds until a zone with this NGINX rate (``20r/s``, ``10r/m``) admits a request."""
    match = re.fullmatch(r"(\d+)r/([sm])", rate)
    if match is None or int(match.group(1)) == 0:
        raise NginxError(f"not an NGINX rate: {rate!r} (expected like 20r/s or 10r/m)")
    period = 1 if match.group(2) == "s" else 60
    return max(1, math.ceil(period / int(match.group(1))))


def fill(template: str, values: Mapping[str, object]) -> str:
    """Replace ``{{name}}`` placeholders; a placeholder without a value is an error."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise NginxError(f"no value for placeholder {{{{{name}}}}}")
        return str(values[name])

    return _PLACEHOLDER.sub(replace, template)


def render_site_conf(
    *,
    listen: str,
    upstream_socket: Path,
    web_root: Path,
    access_log: str,
    limits: RateLimits = RateLimits(),
    server_name: str = "_",
) -> str:
    """The http-context site configuration: maps, rate-limit zones, upstream, server."""
    template = (NGINX_TEMPLATES / "fastboard.conf").read_text()
    return fill(
        template,
        {
            "listen": listen,
            "server_name": server_name,
            "upstream": f"unix:{Path(upstream_socket).absolute()}",
            "upstream_keepalive_timeout": NGINX_UPSTREAM_KEEPALIVE_TIMEOUT,
            "web_root": Path(web_root).resolve(),
            "access_log": access_log,
            "general_rate": limits.general,
            "general_burst": limits.general_burst,
            "auth_rate": limits.auth,
            "auth_burst": limits.auth_burst,
            "general_retry_after": retry_after_seconds(limits.general),
            "auth_retry_after": retry_after_seconds(limits.auth),
        },
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
    )
    (workdir / "fastboard.conf").write_text(site)
    main = fill(
        (NGINX_TEMPLATES / "nginx.conf").read_text(),
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
