"""The ``fastboard`` command: migrate, serve, check-config, nginx-conf, users.

``serve`` replaces itself with Gunicorn (exec), so under systemd or in a container the
Gunicorn master is the main process and receives TERM/HUP directly; at a terminal it
stays as a parent that makes Ctrl-C a graceful stop (see fastboard.serve).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from fastboard import serve
from fastboard.nginx_conf import (
    LIMIT_FLAGS,
    NginxError,
    NginxSettingError,
    RateLimits,
    env_name,
    limit_parser,
    parse_trusted_proxy,
    parse_upstream,
    render_site_conf,
    settings_from_env,
)
from fastboard.resources import web_root
from fastboard.settings import Settings, get_settings
from fastboard.users.roles import ROLE_NAMES

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_BAD_SETTINGS = 2


class _BadSettings(Exception):
    pass


def _settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        raise _BadSettings(str(exc)) from exc


def cmd_migrate(_args: argparse.Namespace) -> int:
    from fastboard.migrate import upgrade_to_head

    upgrade_to_head(_settings())
    print("fastboard: database schema is at the newest migration")
    return EXIT_OK


def migrated_once(settings: Settings, *, migrate: bool) -> dict[str, str]:
    """Migrate here, once, and return an environment that keeps the workers from it:
    several workers migrating one database at the same moment is a race, the one
    production avoids with `fastboard migrate`."""
    if migrate:
        from fastboard.migrate import upgrade_to_head

        upgrade_to_head(settings)
    return dict(os.environ, FASTBOARD_MIGRATE_ON_START="false")


def _workers(requested: int | None, settings: Settings) -> int | None:
    """The worker count to run, saying so when SQLite makes more than one unwise."""
    if not settings.is_sqlite:
        return requested
    configured = requested or _int_or_none(os.environ.get("FASTBOARD_WORKERS", ""))
    if configured is None:
        print(
            "fastboard serve: one worker on SQLite, which lets one writer in at a time "
            "(PostgreSQL for more; --workers N to insist)",
            file=sys.stderr,
        )
        return 1
    if configured > 1:
        print(
            f"fastboard serve: warning: {configured} workers on SQLite wait for each other "
            "to write; use PostgreSQL for more than one",
            file=sys.stderr,
        )
    return requested


def _int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings()  # refuse to start Gunicorn with settings every worker would reject
    env = serve.gunicorn_env(
        bind=args.bind,
        workers=_workers(args.workers, settings),
        metrics_dir=settings.var_dir / "metrics",
        base=migrated_once(settings, migrate=settings.should_migrate_on_start),
    )
    command = serve.gunicorn_command()
    if not serve.at_a_terminal():
        serve.exec_gunicorn(command, env)
    return serve.run_attached(command, env)


def cmd_check_config(_args: argparse.Namespace) -> int:
    from fastboard.preflight import effective_config, run_checks

    settings = _settings()
    config = effective_config(settings)
    width = max(len(name) for name in config)
    print("Effective configuration:")
    for name, value in config.items():
        print(f"  {name:<{width}}  {value}")
    findings = run_checks(settings)
    print("Checks:")
    for finding in findings:
        print(f"  {'ok  ' if finding.ok else 'FAIL'}  {finding.check}: {finding.detail}")
    return EXIT_OK if all(finding.ok for finding in findings) else EXIT_PROBLEM


def cmd_nginx_conf(args: argparse.Namespace) -> int:
    # FASTBOARD_NGINX_* variables first; a flag given on the command line wins, field by
    # field (a certificate from one and its key from the other make a pair).
    try:
        from_env = settings_from_env(
            os.environ, tls_cert=args.tls_cert, tls_key=args.tls_key, tls_listen=args.tls_listen
        )
    except NginxSettingError as exc:
        raise _BadSettings(str(exc)) from exc
    given = {name: getattr(args, name) for name in LIMIT_FLAGS if getattr(args, name) is not None}
    site = render_site_conf(
        listen=args.listen,
        upstream_socket=args.upstream_socket,
        web_root=args.web_root or web_root(),
        access_log=args.access_log,
        server_name=args.server_name,
        limits=dataclasses.replace(from_env.limits, **given),
        more_upstreams=args.upstream if args.upstream is not None else from_env.more_upstreams,
        trusted_proxies=(
            args.trusted_proxy if args.trusted_proxy is not None else from_env.trusted_proxies
        ),
        tls=from_env.tls,
        acme_root=args.acme_root or from_env.acme_root,
    )
    if args.output is None:
        print(site, end="")
    else:
        args.output.write_text(site)
    return EXIT_OK


def cmd_users_set_role(args: argparse.Namespace) -> int:
    import asyncio

    from fastboard.errors import AppError

    try:
        old = asyncio.run(_set_role(_settings(), args.email, args.role))
    except AppError as exc:
        print(f"fastboard: {exc.message}", file=sys.stderr)
        return EXIT_PROBLEM
    print(f"fastboard: {args.email} is now {args.role} (was {old})")
    return EXIT_OK


async def _set_role(settings: Settings, email: str, role: str) -> str:
    from fastboard.db import Database
    from fastboard.moderation.service import set_role_by_email
    from fastboard.users.roles import Role

    database = Database(settings)
    try:
        async with database.writer() as session, session.begin():
            return await set_role_by_email(session, email, Role(role))
    finally:
        await database.dispose()


def _argument(parse: Callable[[str], object]) -> Callable[[str], object]:
    """An argparse type from a fastboard.nginx_conf parser: its message, exit status 2."""

    def convert(text: str) -> object:
        try:
            return parse(text)
        except NginxSettingError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return convert


def _add_nginx_site_settings(nginx: argparse.ArgumentParser) -> None:
    defaults = RateLimits()
    limits = nginx.add_argument_group(
        "limits per client address", "each also read from the FASTBOARD_NGINX_* variable named"
    )
    for name, flag in LIMIT_FLAGS.items():
        default = getattr(defaults, name)
        limits.add_argument(
            f"--{flag}",
            dest=name,
            type=_argument(limit_parser(name)),
            metavar="RATE" if isinstance(default, str) else "N",
            help=f"${env_name(flag)}, default {default}",
        )
    nginx.add_argument(
        "--upstream",
        action="append",
        type=_argument(parse_upstream),
        metavar="HOST:PORT",
        help="another host's Gunicorn, in the upstream too; repeatable "
        f"(${env_name('upstreams')}, comma-separated)",
    )
    nginx.add_argument(
        "--trusted-proxy",
        action="append",
        type=_argument(parse_trusted_proxy),
        metavar="CIDR",
        help="a load balancer whose X-Forwarded-For names the client; repeatable "
        f"(${env_name('trusted-proxies')}, comma-separated; default none: the header is ignored)",
    )
    tls = nginx.add_argument_group("HTTPS", "with a certificate, plain HTTP redirects to HTTPS")
    tls.add_argument("--tls-cert", help=f"certificate chain, PEM (${env_name('tls-cert')})")
    tls.add_argument("--tls-key", help=f"its private key, PEM (${env_name('tls-key')})")
    tls.add_argument(
        "--tls-listen",
        help=f"HTTPS listen directive value (${env_name('tls-listen')}, default 443)",
    )
    nginx.add_argument(
        "--acme-root",
        type=Path,
        help="directory served over plain HTTP at /.well-known/acme-challenge/ "
        f"(certbot --webroot; ${env_name('acme-root')})",
    )


def _positive_int(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastboard",
        description="Run and operate fastboard. Settings come from FASTBOARD_* variables.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, handler: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_, description=help_)
        sub.set_defaults(handler=handler)
        return sub

    add("migrate", cmd_migrate, "upgrade the database schema to the newest migration")

    serving = add("serve", cmd_serve, "run Gunicorn with Uvicorn workers (fastboard.gunicorn_conf)")
    serving.add_argument(
        "--bind", help="host:port or unix:/path (default: $FASTBOARD_BIND or 127.0.0.1:8000)"
    )
    serving.add_argument(
        "--workers",
        type=_positive_int,
        help="default: $FASTBOARD_WORKERS, else 1 on SQLite and 2 x cores + 1 otherwise",
    )

    add(
        "check-config", cmd_check_config, "print the effective configuration and check the database"
    )

    nginx = add("nginx-conf", cmd_nginx_conf, "print the NGINX site configuration for conf.d/")
    nginx.add_argument("--listen", default="80", help="NGINX listen directive value (default 80)")
    nginx.add_argument("--server-name", default="_", help="default: any host")
    nginx.add_argument("--upstream-socket", type=Path, default=Path("/run/fastboard/gunicorn.sock"))
    nginx.add_argument(
        "--web-root", type=Path, help="the pages NGINX serves (default: the package's web/)"
    )
    nginx.add_argument("--access-log", default="/var/log/nginx/fastboard.access.log")
    nginx.add_argument("--output", type=Path, help="write here instead of standard output")
    _add_nginx_site_settings(nginx)

    users = commands.add_parser("users", help="manage accounts", description="manage accounts")
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="COMMAND")
    set_role = user_commands.add_parser(
        "set-role",
        help="give the account with this email a role (how the first admin is made)",
        description="give the account with this email a role (how the first admin is made)",
    )
    set_role.set_defaults(handler=cmd_users_set_role)
    set_role.add_argument("email")
    set_role.add_argument("role", choices=ROLE_NAMES)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except _BadSettings as exc:
        print(f"fastboard: invalid settings:\n{exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except NginxError as exc:
        print(f"fastboard: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
