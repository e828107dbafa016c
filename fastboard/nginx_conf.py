"""fastboard's NGINX site, rendered from the template shipped in the package.

``fastboard nginx-conf`` prints it for a server's conf.d/; the development stack
(``dev/``), the stack tests and the benchmark include the very same text. Standard
library only.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from fastboard import resources

T = TypeVar("T")

SITE_TEMPLATE = "nginx_site.conf"
HTTPS_REDIRECT_TEMPLATE = "nginx_https_redirect.conf"

# Strict-Transport-Security on every HTTPS answer, NGINX's own ones included: the app's
# value (fastboard.headers.HSTS; a test keeps the two equal), whose copy NGINX hides.
HSTS = "max-age=63072000; includeSubDomains"

# NGINX closes an idle upstream connection after this long (``keepalive_timeout`` in the
# ``upstream`` block). Gunicorn's keepalive must be longer, or a worker may close a
# connection at the very moment NGINX sends a request on it: a 502 no retry explains.
# Short, because a stopping worker waits this long for NGINX to close its idle connections
# (fastboard.worker.DRAIN_IDLE_SECONDS); a busy pool is reused long before it expires.
NGINX_UPSTREAM_KEEPALIVE_TIMEOUT = 4

# Settings of the site read from the environment (``FASTBOARD_NGINX_<NAME>``) by
# ``fastboard nginx-conf`` and ``make stack``; a flag of the same name wins.
ENV_PREFIX = "FASTBOARD_NGINX_"

_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
_RATE = re.compile(r"(\d+)r/([sm])")


class NginxError(RuntimeError):
    """NGINX is missing, or a template or the rendered configuration is wrong."""


class NginxSettingError(NginxError, ValueError):
    """A setting of the site (a flag or a ``FASTBOARD_NGINX_*`` variable) is malformed."""


def parse_rate(text: str) -> str:
    """An NGINX request rate, ``20r/s`` or ``10r/m``; anything else is refused."""
    match = _RATE.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise NginxSettingError(f"not an NGINX rate: {text!r} (expected like 20r/s or 10r/m)")
    return match.group(0)


def parse_count(text: str) -> int:
    """A burst or a connection count: a whole number, 0 or more."""
    try:
        number = int(text.strip())
    except ValueError:
        number = -1
    if number < 0:
        raise NginxSettingError(f"not a count: {text!r} (expected a whole number, 0 or more)")
    return number


def parse_connections(text: str) -> int:
    """A connection limit, as NGINX takes it: 1 to 65,535."""
    number = parse_count(text)
    if not 0 < number < 65536:
        raise NginxSettingError(f"not a connection limit: {text!r} (expected 1 to 65535)")
    return number


def parse_trusted_proxy(text: str) -> str:
    """An address or network (``10.0.0.0/8``, ``2001:db8::/32``) for ``set_real_ip_from``."""
    try:
        return str(ipaddress.ip_network(text.strip(), strict=False))
    except ValueError:
        raise NginxSettingError(
            f"not an address or network: {text!r} (expected like 10.0.0.5 or 10.0.0.0/8)"
        ) from None


def parse_upstream(text: str) -> str:
    """Another host's Gunicorn: ``host:port``, ``[v6]:port``, or a unix socket path."""
    value = text.strip()
    if value.startswith("unix:/") or value.startswith("/"):
        return value if value.startswith("unix:") else f"unix:{value}"
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})", value)
    if match is None or not 0 < int(match.group(2)) < 65536:
        raise NginxSettingError(
            f"not an upstream address: {text!r} (expected host:port or a unix socket path)"
        )
    return value


@dataclass(frozen=True)
class RateLimits:
    """NGINX limits per client address: request rates (``rate`` syntax: ``20r/s``,
    ``10r/m``) with their bursts, and requests in progress at once."""

    general: str = "20r/s"
    general_burst: int = 40
    auth: str = "10r/m"
    auth_burst: int = 5
    search: str = "5r/s"
    search_burst: int = 20
    # Requests one address may have in progress (headers read, answer not yet sent):
    # bounds what slow uploads from one address can tie up. Live connections have their own.
    connections: int = 100


@dataclass(frozen=True)
class Tls:
    """The HTTPS server: certificate chain and key (PEM paths, as NGINX reads them)."""

    cert: Path
    key: Path
    listen: str = "443"


@dataclass(frozen=True)
class SiteSettings:
    """What an operator sets for the site beyond where it listens and what it serves."""

    limits: RateLimits = RateLimits()
    trusted_proxies: tuple[str, ...] = ()
    more_upstreams: tuple[str, ...] = ()
    tls: Tls | None = None
    acme_root: Path | None = None


# RateLimits field → its flag (--<flag>) and variable (FASTBOARD_NGINX_<FLAG>).
LIMIT_FLAGS: dict[str, str] = {
    "general": "general-rate",
    "general_burst": "general-burst",
    "auth": "auth-rate",
    "auth_burst": "auth-burst",
    "search": "search-rate",
    "search_burst": "search-burst",
    "connections": "connections-per-address",
}


def env_name(flag: str) -> str:
    return ENV_PREFIX + flag.upper().replace("-", "_")


def limit_parser(name: str) -> Callable[[str], str | int]:
    """How a RateLimits field is read from text: a rate, a burst or a connection limit."""
    if name == "connections":
        return parse_connections
    return parse_rate if isinstance(getattr(RateLimits, name), str) else parse_count


def settings_from_env(
    environ: Mapping[str, str],
    *,
    tls_cert: str | None = None,
    tls_key: str | None = None,
    tls_listen: str | None = None,
) -> SiteSettings:
    """The site's settings from ``FASTBOARD_NGINX_*`` variables (lists comma-separated);
    a malformed one raises :class:`NginxSettingError` naming the variable.

    ``tls_*``: the command line's TLS flags, each replacing its own variable; the pair is
    checked once merged, so a certificate from one and its key from the other is a pair.
    """

    def values(flag: str, parse: Callable[[str], T]) -> list[T]:
        name = env_name(flag)
        items = [item for item in environ.get(name, "").split(",") if item.strip()]
        try:
            return [parse(item) for item in items]
        except NginxSettingError as exc:
            raise NginxSettingError(f"{name}: {exc}") from None

    limits = {
        name: found[-1]
        for name, flag in LIMIT_FLAGS.items()
        if (found := values(flag, limit_parser(name)))
    }
    cert, key, listen, acme = (
        environ.get(env_name(flag), "").strip()
        for flag in ("tls-cert", "tls-key", "tls-listen", "acme-root")
    )
    try:
        tls = tls_from(tls_cert or cert or None, tls_key or key or None, tls_listen or listen)
    except NginxSettingError as exc:
        raise NginxSettingError(
            f"--tls-cert / --tls-key / --tls-listen, {env_name('tls-cert')} / _KEY / _LISTEN: {exc}"
        ) from None
    return SiteSettings(
        limits=RateLimits(**limits),  # type: ignore[arg-type]
        trusted_proxies=tuple(values("trusted-proxies", parse_trusted_proxy)),
        more_upstreams=tuple(values("upstreams", parse_upstream)),
        tls=tls,
        acme_root=Path(acme) if acme else None,
    )


def tls_from(cert: str | None, key: str | None, listen: str = "") -> Tls | None:
    """Both paths or neither: a certificate without its key (or the reverse) is an error."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise NginxSettingError("give both the TLS certificate and its key, or neither")
    listen = listen.strip() or "443"
    _port(listen)
    return Tls(cert=Path(cert).absolute(), key=Path(key).absolute(), listen=listen)


def retry_after_seconds(rate: str) -> int:
    """Seconds until a zone with this NGINX rate (``20r/s``, ``10r/m``) admits a request."""
    match = _RATE.fullmatch(parse_rate(rate))
    assert match is not None
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


_INDENT = "\n    "


def real_ip_directives(trusted_proxies: Sequence[str]) -> str:
    """The client address from X-Forwarded-For, but only on connections from these
    proxies; with none, the header is never read (anyone could write it)."""
    if not trusted_proxies:
        return "# None: the client is the connection's address, whatever X-Forwarded-For says."
    lines = [f"set_real_ip_from {parse_trusted_proxy(proxy)};" for proxy in trusted_proxies]
    # Recursive: the rightmost address not itself a trusted proxy, so a client cannot
    # choose its address by sending X-Forwarded-For through the proxy (which appends).
    lines += ["real_ip_header X-Forwarded-For;", "real_ip_recursive on;"]
    return _INDENT.join(lines)


def _port(listen: str) -> int:
    match = re.search(r"(?:^|:)(\d+)$", listen.split()[0])
    if match is None:
        raise NginxSettingError(f"no port in the TLS listen address: {listen!r}")
    return int(match.group(1))


def acme_location(acme_root: Path | None) -> str:
    if acme_root is None:
        return "# No ACME webroot (--acme-root): /.well-known/acme-challenge/ is not served."
    return _INDENT.join(
        [
            "# Certificate challenges (certbot --webroot): plain HTTP, before any redirect.",
            "location ^~ /.well-known/acme-challenge/ {",
            f"    root {Path(acme_root).absolute()};",
            "    default_type text/plain;",
            "    try_files $uri =404;",
            "}",
        ]
    )


def redirect_host(server_name: str) -> str | None:
    """The host HTTP requests are redirected to: the first of ``server_name``'s names when
    it is a plain one; None for ``_``, wildcards and regular expressions (no one host)."""
    names = server_name.split()
    first = names[0] if names else ""
    if first in ("", "_") or first.startswith(("~", ".")) or "*" in first:
        return None
    return first


def _tls_values(
    listen: str, server_name: str, tls: Tls | None, acme_root: Path | None, access_log: str
) -> dict[str, object]:
    if tls is None:
        return {
            "listen_directives": f"listen {listen};",
            "tls_directives": "# No certificate given (--tls-cert/--tls-key): plain HTTP only.",
            "acme_location": acme_location(acme_root),
            "https_redirect_server": "",
        }
    port = _port(tls.listen)
    host = redirect_host(server_name)
    redirect = fill(
        resources.template(HTTPS_REDIRECT_TEMPLATE),
        {
            "listen": listen,
            "server_name": server_name,
            "access_log": access_log,
            "redirect_host": host or "$host",
            "redirect_headers": (
                "# Always the site's own host: nothing the client sends changes this answer."
                if host
                else "# Any host, echoed: fit for the browser that asked, never for a shared cache."
                + _INDENT
                + "    add_header Cache-Control private;"
            ),
            "https_port": "" if port == 443 else f":{port}",
            "acme_location": acme_location(acme_root),
        },
    )
    return {
        # http2 as a listen parameter: NGINX 1.22 (Debian 12) has no "http2 on;" (1.25.1+,
        # where this spelling still works, with a deprecation warning).
        "listen_directives": f"listen {tls.listen} ssl http2;",
        "tls_directives": _INDENT.join(
            [
                f"ssl_certificate {Path(tls.cert).absolute()};",
                f"ssl_certificate_key {Path(tls.key).absolute()};",
                "ssl_protocols TLSv1.2 TLSv1.3;",
                # Mozilla's "intermediate" list: forward secrecy and AEAD only. TLS 1.3
                # suites are not configured here (OpenSSL's are all modern).
                "ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305;",
                "ssl_prefer_server_ciphers off;",
                # Resumed sessions skip the key exchange; about 40,000 sessions per 10 MB.
                "ssl_session_cache shared:fastboard_tls:10m;",
                "ssl_session_timeout 1d;",
                # Tickets would be encrypted with a key that never rotates unless NGINX
                # restarts: forward secrecy lost. The cache does the same job.
                "ssl_session_tickets off;",
            ]
        ),
        "acme_location": "# ACME challenges are answered by the plain-HTTP server.",
        "https_redirect_server": redirect,
    }


def render_site_conf(
    *,
    listen: str,
    upstream_socket: Path,
    web_root: Path,
    access_log: str,
    limits: RateLimits = RateLimits(),
    server_name: str = "_",
    more_upstreams: Sequence[Path | str] = (),
    trusted_proxies: Sequence[str] = (),
    tls: Tls | None = None,
    acme_root: Path | None = None,
) -> str:
    """The http-context site configuration: maps, rate-limit zones, upstream, server.

    ``more_upstreams``: other hosts' Gunicorn (unix socket paths or ``host:port``).
    ``trusted_proxies``: load balancers whose X-Forwarded-For names the client.
    ``tls``: serve HTTPS (HTTP/2, HSTS) and redirect ``listen`` (plain HTTP) to it.
    ``acme_root``: a directory served at ``/.well-known/acme-challenge/`` over HTTP.
    """
    return fill(
        resources.template(SITE_TEMPLATE),
        {
            "server_name": server_name,
            "upstream_servers": upstream_servers([Path(upstream_socket), *more_upstreams]),
            "upstream_keepalive_timeout": NGINX_UPSTREAM_KEEPALIVE_TIMEOUT,
            "web_root": Path(web_root).resolve(),
            "access_log": access_log,
            "general_rate": parse_rate(limits.general),
            "general_burst": limits.general_burst,
            "auth_rate": parse_rate(limits.auth),
            "auth_burst": limits.auth_burst,
            "general_retry_after": retry_after_seconds(limits.general),
            "auth_retry_after": retry_after_seconds(limits.auth),
            "search_rate": parse_rate(limits.search),
            "search_burst": limits.search_burst,
            "search_retry_after": retry_after_seconds(limits.search),
            "connections_per_address": parse_connections(str(limits.connections)),
            "real_ip": real_ip_directives(trusted_proxies),
            "hsts": HSTS,
            **_tls_values(listen, server_name, tls, acme_root, access_log),
        },
    )
