"""The ``fastboard`` command: run as an operator runs it (a subprocess with an environment)
where it talks to a database, in process where it only parses and prints. Starting real
servers is left to tests/stack/test_cli.py."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from dev.stack import settings_env
from fastboard.cli import _workers, main
from fastboard.resources import web_root
from tests.conftest import TEST_SECRET, make_settings


def fastboard_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """Only the settings given: never a FASTBOARD_* variable of the caller's shell."""
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


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
        secret_key=TEST_SECRET,
        database_url=f"postgresql+asyncpg://app:hunter2-password@127.0.0.1:{closed_port()}/x",
        db_connect_timeout="2",
    )
    result = fastboard("check-config", env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert "FAIL  database: unreachable" in result.stdout
    assert "secret_key        set" in result.stdout
    assert TEST_SECRET not in result.stdout
    assert "hunter2-password" not in result.stdout


def test_invalid_settings_exit_2_with_the_reason(tmp_path: Path) -> None:
    env = fastboard_env(tmp_path, env="production")
    for command in ("check-config", "migrate", "serve"):
        result = fastboard(command, env=env, cwd=tmp_path)
        assert result.returncode == 2, command
        assert "FASTBOARD_SECRET_KEY must be set" in result.stderr


def test_nginx_conf_serves_the_packaged_web_root_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["nginx-conf", "--listen", "8081", "--server-name", "board.example.org"]) == 0
    site = capsys.readouterr().out
    assert f"root {web_root()};" in site
    assert (web_root() / "index.html").is_file()
    assert "listen 8081;" in site
    assert "server_name board.example.org;" in site
    assert "server unix:/run/fastboard/gunicorn.sock max_fails=0;" in site


def test_nginx_conf_writes_the_file_it_is_given(tmp_path: Path) -> None:
    output = tmp_path / "fastboard.conf"
    assert main(["nginx-conf", "--web-root", str(tmp_path), "--output", str(output)]) == 0
    assert f"root {tmp_path.resolve()};" in output.read_text()


def test_serve_runs_one_worker_on_sqlite_unless_told_otherwise(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FASTBOARD_WORKERS", raising=False)
    sqlite = make_settings(f"sqlite+aiosqlite:///{tmp_path}/x.db", tmp_path)
    postgres = make_settings("postgresql+asyncpg://u@127.0.0.1/x", tmp_path)

    assert _workers(None, sqlite) == 1
    assert "one worker on SQLite" in capsys.readouterr().err
    assert _workers(None, postgres) is None  # Gunicorn's default: 2 x cores + 1
    assert _workers(3, postgres) == 3
    assert capsys.readouterr().err == ""

    assert _workers(3, sqlite) == 3
    assert "warning: 3 workers on SQLite" in capsys.readouterr().err
    monkeypatch.setenv("FASTBOARD_WORKERS", "4")
    assert _workers(None, sqlite) is None  # the environment's 4 stand
    assert "warning: 4 workers on SQLite" in capsys.readouterr().err


def test_users_set_role_makes_the_first_admin_and_keeps_the_last_one(tmp_path: Path) -> None:
    database = tmp_path / "roles.db"
    env = fastboard_env(tmp_path, database_url=f"sqlite+aiosqlite:///{database}")
    assert fastboard("migrate", env=env, cwd=tmp_path).returncode == 0
    with sqlite3.connect(database) as conn:
        conn.execute(
            "INSERT INTO users (username, email, password_hash, bio, created_at, updated_at)"
            " VALUES ('ann', 'ann@example.com', 'x', '', '2026-01-01', '2026-01-01')"
        )

    made = fastboard("users", "set-role", "Ann@Example.com", "admin", env=env, cwd=tmp_path)
    unknown = fastboard("users", "set-role", "nobody@example.com", "admin", env=env, cwd=tmp_path)
    bad_role = fastboard("users", "set-role", "ann@example.com", "root", env=env, cwd=tmp_path)
    last = fastboard("users", "set-role", "ann@example.com", "user", env=env, cwd=tmp_path)

    assert made.returncode == 0, made.stderr
    assert "is now admin (was user)" in made.stdout
    assert (unknown.returncode, unknown.stderr.strip()) == (
        1,
        "fastboard: no account with the email nobody@example.com",
    )
    assert bad_role.returncode == 2
    assert "invalid choice: 'root'" in bad_role.stderr
    assert last.returncode == 1
    assert "last admin" in last.stderr
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT role FROM users").fetchall() == [("admin",)]
        log = conn.execute(
            "SELECT moderator, action, target, detail FROM moderation_log"
        ).fetchall()
    assert log == [("(command line)", "set_role", "ann", "user -> admin")]
