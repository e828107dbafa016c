"""fastboard's NGINX site, rendered from the template shipped in the package.

``fastboard nginx-conf`` prints it for a server's conf.d/; the development stack
(``dev/``), the stack tests and the benchmark include the very same text. Standard
library only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from fastboard import resources

SITE_TEMPLATE = "nginx_site.conf"

# NGINX closes an idle upstream connection after this long (``keepalive_timeout`` in the
# ``upstream`` block). Gunicorn's keepalive must be longer, or a worker may close a
# connection at the very moment NGINX sends a request on it: a 502 no retry explains.
# Short, because a stopping worker waits this long for NGINX to close its idle connections
# (fastboard.worker.DRAIN_IDLE_SECONDS); a busy pool is reused long before it expires.
NGINX_UPSTREAM_KEEPALIVE_TIMEOUT = 4

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
    search: str = "5r/s"
    search_burst: int = 20


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


# Entries in the upstream block: attempts NGINX may make for an idempotent request.
UPSTREAM_ATTEMPTS = 3


def upstream_servers(sockets: Sequence[Path | str]) -> str:
    """The upstream's ``server`` lines: each Gunicorn (a unix socket path, or a
    ``host:port`` string for another host) once, then again as backups: one host, two
    backups (three attempts); several hosts, each once more."""
    addresses = [
        f"unix:{Path(socket).absolute()}" if isinstance(socket, Path) else socket
        for socket in sockets
    ]
    lines = [f"server {address} max_fails=0;" for address in addresses]
    # Backups take the retries, in the same order: a host that failed is not the next.
    backups = (addresses * UPSTREAM_ATTEMPTS)[: max(len(addresses), UPSTREAM_ATTEMPTS - 1)]
    lines += [f"server {address} max_fails=0 backup;" for address in backups]
    return "\n    ".join(lines)


def render_site_conf(
    *,
    listen: str,
    upstream_socket: Path,
    web_root: Path,
    access_log: str,
    limits: RateLimits = RateLimits(),
    server_name: str = "_",
    more_upstreams: Sequence[Path | str] = (),
) -> str:
    """The http-context site configuration: maps, rate-limit zones, upstream, server.
    ``more_upstreams``: other hosts' Gunicorn (unix socket paths or ``host:port``)."""
    return fill(
        resources.template(SITE_TEMPLATE),
        {
            "listen": listen,
            "server_name": server_name,
            "upstream_servers": upstream_servers([Path(upstream_socket), *more_upstreams]),
            "upstream_keepalive_timeout": NGINX_UPSTREAM_KEEPALIVE_TIMEOUT,
            "web_root": Path(web_root).resolve(),
            "access_log": access_log,
            "general_rate": limits.general,
            "general_burst": limits.general_burst,
            "auth_rate": limits.auth,
            "auth_burst": limits.auth_burst,
            "general_retry_after": retry_after_seconds(limits.general),
            "auth_retry_after": retry_after_seconds(limits.auth),
            "search_rate": limits.search,
            "search_burst": limits.search_burst,
            "search_retry_after": retry_after_seconds(limits.search),
        },
    )
