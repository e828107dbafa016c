"""``make stack`` (``python -m dev.stack``): NGINX and Gunicorn supervised together, and
what the stack leaves on disk."""

from __future__ import annotations

import signal
import stat
import sys
from pathlib import Path

import pytest

from dev.stack import RunningStack, free_port, http_ok, settings_env
from tests.stack.conftest import SECRET, StackFactory
from tests.stack.processes import children, serving

pytestmark = pytest.mark.stack


def test_stack_serves_until_interrupted_then_stops_both_servers(
    nginx: str, tmp_path: Path, pytestconfig: pytest.Config
) -> None:
    env = settings_env(
        var_dir=str(tmp_path / "var"),
        env="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path}/stack.db",
    )
    # dev/ is tooling of the checkout, not of the installed package.
    env["PYTHONPATH"] = str(pytestconfig.rootpath)
    # The site's settings are fastboard nginx-conf's variables.
    env["FASTBOARD_NGINX_AUTH_RATE"] = "3r/m"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with serving(
        [sys.executable, "-m", "dev.stack", "--port", str(port), "--workers", "1"],
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
    workdir = tmp_path / "var" / "stack"
    assert not (workdir / "gunicorn.sock").exists()
    assert (workdir / "nginx.conf").exists()
    assert "zone=fastboard_auth:10m rate=3r/m;" in (workdir / "fastboard.conf").read_text()


def test_env_file_keeps_secrets_out_and_only_its_owner_can_read_it(
    make_stack: StackFactory,
) -> None:
    stack: RunningStack = make_stack(
        workers=1,
        FASTBOARD_DATABASE_URL="postgresql+asyncpg://app:db-hunter2@127.0.0.1:1/x",
        FASTBOARD_REDIS_URL="redis://:redis-hunter2@127.0.0.1:1/0",
    )
    env_file = stack.workdir / "gunicorn.env"
    text = env_file.read_text()
    assert SECRET not in text
    assert "hunter2" not in text
    assert "FASTBOARD_DATABASE_URL=postgresql+asyncpg://app:***@127.0.0.1:1/x" in text
    assert "FASTBOARD_REDIS_URL=redis://:***@127.0.0.1:1/0" in text
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
