"""The ``fastboard`` command: migrate, serve, stack, check-config, nginx-conf.

``serve`` replaces itself with Gunicorn (exec), so under systemd or in a container the
Gunicorn master is the main process and receives TERM/HUP directly.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import ValidationError

from fastboard import stack
from fastboard.settings import Settings, get_settings

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


def _migrated_once(settings: Settings, *, migrate: bool) -> dict[str, str]:
    """Migrate here, once, and return an environment that keeps the workers from it:
    several workers migrating one database at the same moment is a race, the one
    production avoids with `fastboard migrate`."""
    if migrate:
        from fastboard.migrate import upgrade_to_head

        upgrade_to_head(settings)
    return dict(os.environ, FASTBOARD_MIGRATE_ON_START="false")


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings()  # refuse to exec Gunicorn with settings every worker would reject
    env = stack.gunicorn_env(
        bind=args.bind,
        workers=args.workers,
        metrics_dir=settings.var_dir / "metrics",
        base=_migrated_once(settings, migrate=settings.should_migrate_on_start),
    )
    command = stack.gunicorn_command()
    os.execve(command[0], command, env)  # noqa: S606 - fixed argv, no shell


def cmd_stack(args: argparse.Namespace) -> int:
    env = _migrated_once(_settings(), migrate=not args.no_migrate)
    running = stack.start_stack(
        workdir=args.workdir,
        port=args.port,
        workers=args.workers,
        env=env,
        web_root=args.web_root,
        log_to_files=False,
    )
    print(
        f"fastboard stack: {running.url} → NGINX → unix:{running.socket} → Gunicorn "
        f"({args.workers} workers). NGINX logs in {running.workdir / 'logs'}. "
        "Ctrl-C stops, HUP reloads.",
        file=sys.stderr,
        flush=True,
    )
    return stack.supervise(running, announce=sys.stderr)


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
    site = stack.render_site_conf(
        listen=args.listen,
        upstream_socket=args.upstream_socket,
        web_root=args.web_root,
        access_log=args.access_log,
        server_name=args.server_name,
    )
    if args.output is None:
        print(site, end="")
    else:
        args.output.write_text(site)
    return EXIT_OK


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

    serve = add("serve", cmd_serve, "run Gunicorn with Uvicorn workers (deploy/gunicorn.conf.py)")
    serve.add_argument(
        "--bind", help="host:port or unix:/path (default: $FASTBOARD_BIND or 127.0.0.1:8000)"
    )
    serve.add_argument(
        "--workers", type=_positive_int, help="default: $FASTBOARD_WORKERS or 2 x cores + 1"
    )

    run_stack = add("stack", cmd_stack, "run NGINX in front of Gunicorn, as in production")
    run_stack.add_argument(
        "--port", type=_positive_int, default=8080, help="NGINX port on 127.0.0.1 (default 8080)"
    )
    run_stack.add_argument(
        "--workers", type=_positive_int, default=2, help="Gunicorn workers (default 2)"
    )
    run_stack.add_argument(
        "--workdir", type=Path, default=Path("var/stack"), help="default var/stack"
    )
    run_stack.add_argument("--web-root", type=Path, default=stack.WEB_ROOT, help=argparse.SUPPRESS)
    run_stack.add_argument(
        "--no-migrate", action="store_true", help="skip `migrate` before starting"
    )

    add(
        "check-config", cmd_check_config, "print the effective configuration and check the database"
    )

    nginx = add("nginx-conf", cmd_nginx_conf, "print the NGINX site configuration for conf.d/")
    nginx.add_argument("--listen", default="80", help="NGINX listen directive value (default 80)")
    nginx.add_argument("--server-name", default="_", help="default: any host")
    nginx.add_argument("--upstream-socket", type=Path, default=Path("/run/fastboard/gunicorn.sock"))
    nginx.add_argument("--web-root", type=Path, default=stack.WEB_ROOT)
    nginx.add_argument("--access-log", default="/var/log/nginx/fastboard.access.log")
    nginx.add_argument("--output", type=Path, help="write here instead of standard output")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return handler(args)
    except _BadSettings as exc:
        print(f"fastboard: invalid settings:\n{exc}", file=sys.stderr)
        return EXIT_BAD_SETTINGS
    except (stack.StackError, stack.NginxError) as exc:
        print(f"fastboard: {exc}", file=sys.stderr)
        return EXIT_PROBLEM
