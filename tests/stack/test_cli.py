"""``fastboard serve`` and ``fastboard nginx-conf`` with real servers: run as an operator
runs them, a subprocess with an environment."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dev.nginx import nginx_command
from dev.stack import free_port, http_ok, wait_until
from tests.stack.conftest import SECRET
from tests.stack.processes import children, serving
from tests.test_cli import fastboard, fastboard_env

pytestmark = pytest.mark.stack


def migrated_sqlite(tmp_path: Path) -> dict[str, str]:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/serve.db"
    env = fastboard_env(tmp_path, database_url=database_url, secret_key=SECRET)
    assert fastboard("migrate", env=env, cwd=tmp_path).returncode == 0
    return env


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
    """Not at a terminal (systemd, containers): exec, so signals reach Gunicorn itself."""
    env = migrated_sqlite(tmp_path)
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
        assert len(children(process.pid)) == 2
        # Multiprocess metrics by default, so /metrics adds up every worker's share.
        assert list((tmp_path / "var" / "metrics").glob("*.db"))
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
    assert "warning: 2 workers on SQLite" in (tmp_path / "serve.log").read_text()


def test_ctrl_c_at_a_terminal_is_a_graceful_stop(tmp_path: Path) -> None:
    """At a terminal, Ctrl-C sends SIGINT to the whole foreground process group. Gunicorn
    would take it as its quick stop; `fastboard serve` keeps Gunicorn out of that group
    and asks it for the graceful stop instead. On SQLite it starts one worker."""
    env = migrated_sqlite(tmp_path)
    port = free_port()
    log = tmp_path / "serve.log"
    controller, terminal = os.openpty()
    with log.open("wb") as output:
        # Its own process group, as a shell gives a foreground job; the pty is its stdin.
        process = subprocess.Popen(
            [sys.executable, "-m", "fastboard", "serve", "--bind", f"127.0.0.1:{port}"],
            env=env,
            cwd=tmp_path,
            stdin=terminal,
            stdout=output,
            stderr=output,
            process_group=0,
        )
    os.close(terminal)
    try:
        ready = f"http://127.0.0.1:{port}/api/articles"
        wait_until(lambda: http_ok(ready), timeout=60, watch=process, what="fastboard serve")
        [master] = children(process.pid)
        assert len(children(master)) == 1
        os.killpg(process.pid, signal.SIGINT)  # what the terminal does on Ctrl-C
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        os.close(controller)
    text = log.read_text()
    assert "one worker on SQLite" in text
    assert "Handling signal: term" in text
    assert "Application shutdown complete." in text
    assert "Handling signal: int" not in text
    assert "SIGINT" not in text
    assert "Bad file descriptor" not in text
    assert "Traceback" not in text
