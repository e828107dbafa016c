"""The ``fastboard`` command, run as an operator runs it: a subprocess with an environment."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from fastboard.stack import (
    free_port,
    http_ok,
    nginx_command,
    settings_env,
)
from tests.stack.conftest import SECRET
from tests.stack.processes import children, serving

pytestmark = pytest.mark.stack


def fastboard_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    return settings_env(**{"var_dir": str(tmp_path / "var"), "env": "test", **settings})


def fastboard(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fastboard", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_config_then_migrate_then_check_again(tmp_path: Path) -> None:
    env = fastboard_env(tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/new.db")
    before = fastboard("check-config", env=env, cwd=tmp_path)
    assert before.returncode == 1
    assert "FAIL  database:" in before.stdout
    assert "run `fastboard migrate`" in before.stdout

    migrated = fastboard("migrate", env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr

    after = fastboard("check-config", env=env, cwd=tmp_path)
    assert after.returncode == 0, after.stdout + after.stderr
    assert "ok    migrations: at head" in after.stdout


def test_check_config_hides_secrets_and_reports_a_database_it_cannot_reach(
    tmp_path: Path,
) -> None:
    env = fastboard_env(
        tmp_path,
        secret_key=SECRET,
        database_url=f"postgresql+asyncpg://app:hunter2-password@127.0.0.1:{free_port()}/x",
        db_connect_timeout="2",
    )
    result = fastboard("check-config", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "FAIL  database: unreachable" in result.stdout
    assert "secret_key        set" in result.stdout
    assert SECRET not in result.stdout
    assert "hunter2-password" not in result.stdout


def test_invalid_settings_exit_2_with_the_reason(tmp_path: Path) -> None:
    env = fastboard_env(tmp_path, env="production")
    for command in ("check-config", "migrate", "serve"):
        result = fastboard(command, env=env, cwd=tmp_path)
        assert result.returncode == 2, command
        assert "FASTBOARD_SECRET_KEY must be set" in result.stderr


def test_nginx_conf_for_a_server_is_accepted_by_nginx(nginx: str, tmp_path: Path) -> None:
    """What `fastboard nginx-conf` prints works inside a stock nginx.conf's http block."""
    result = fastboard(
        "nginx-conf",
        "--listen",
        f"127.0.0.1:{free_port()}",
        "--upstream-socket",
        str(tmp_path / "gunicorn.sock"),
        "--access-log",
        str(tmp_path / "access.log"),
        env=fastboard_env(tmp_path),
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    (tmp_path / "logs").mkdir()
    (tmp_path / "site.conf").write_text(result.stdout)
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"pid {tmp_path}/nginx.pid;\nevents {{}}\n"
        f"http {{ client_body_temp_path {tmp_path}; proxy_temp_path {tmp_path}; "
        f"include {tmp_path}/site.conf; }}\n"
    )
    check = subprocess.run(
        nginx_command(main, nginx, test_only=True), capture_output=True, text=True, check=False
    )
    assert check.returncode == 0, check.stderr


def test_serve_becomes_the_gunicorn_master(tmp_path: Path) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/serve.db"
    env = fastboard_env(tmp_path, database_url=database_url, secret_key=SECRET)
    assert fastboard("migrate", env=env, cwd=tmp_path).returncode == 0
    port = free_port()
    command = [sys.executable, "-m", "fastboard", "serve", "--bind", f"127.0.0.1:{port}"]
    with serving(
        [*command, "--workers", "2"],
        probe=f"http://127.0.0.1:{port}/api/articles",
        output=tmp_path / "serve.log",
        boot_timeout=60,
        stop=signal.SIGQUIT,
        stop_timeout=10,
        env=env,
        cwd=tmp_path,
    ) as process:
        # exec, not a child: signals sent to this pid reach Gunicorn itself.
        assert len(children(process.pid)) == 2
        # Multiprocess metrics by default, so /metrics adds up every worker's share.
        assert list((tmp_path / "var" / "metrics").glob("*.db"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0


def test_stack_serves_until_interrupted_then_stops_both_servers(nginx: str, tmp_path: Path) -> None:
    env = fastboard_env(tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path}/stack.db")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(
        [sys.executable, "-m", "fastboard", "stack", "--port", str(port), "--workers", "1"],
        probe=f"{url}/api/articles",
        output=tmp_path / "stack.log",
        boot_timeout=60,
        stop=signal.SIGTERM,
        stop_timeout=10,
        env=env,
        cwd=tmp_path,
    ) as process:
        assert http_ok(f"{url}/")
        servers = children(process.pid)
        assert len(servers) == 2  # NGINX master and Gunicorn master
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=60) == 0
        assert not any(Path(f"/proc/{pid}").exists() for pid in servers)
        assert not (tmp_path / "var" / "stack" / "gunicorn.sock").exists()
        assert (tmp_path / "var" / "stack" / "nginx.conf").exists()
