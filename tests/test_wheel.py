"""The package installs and runs on its own: a wheel built from this checkout, installed
into a virtualenv outside it, migrates, checks its configuration and serves from another
directory, with everything it needs (migrations, web pages, templates) found inside.

Offline: built without build isolation from the setuptools of the dev environment, and
installed without dependencies into a virtualenv that borrows the already installed ones
through a .pth file (which adds their directory, not the checkout's editable install).
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import sysconfig
import urllib.request
from pathlib import Path

import pytest

from dev.stack import free_port, http_ok, settings_env, spawn, stop_process, wait_until

BUILD_INPUTS = ("pyproject.toml", "README.md", "fastboard")


def run(*command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{command}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config) -> Path:
    """The bin/ directory of a virtualenv holding the wheel built from this checkout."""
    work = tmp_path_factory.mktemp("wheel")
    # A copy of what the wheel is built from: an in-tree build would leave build/ in the
    # checkout, whose stale files a later build would package.
    source = work / "source"
    for name in BUILD_INPUTS:
        origin = pytestconfig.rootpath / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(origin, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    offline = ["--no-deps", "--no-index"]
    run(
        *pip,
        "wheel",
        *offline,
        "--no-build-isolation",
        "--wheel-dir",
        work / "dist",
        source,
        cwd=work,
    )
    [wheel] = (work / "dist").glob("fastboard-*.whl")

    venv = work / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    python = venv / "bin" / "python"
    run(*pip, "--python", python, "install", *offline, wheel, cwd=work)
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=work
        ).strip()
    )
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv / "bin"


@pytest.fixture
def elsewhere(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A directory with nothing of the checkout in it, and settings for a new SQLite file."""
    env = settings_env(
        env="test",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'board.db'}",
        var_dir=str(tmp_path / "var"),
    )
    env.pop("PYTHONPATH", None)
    return tmp_path, env


def test_the_installed_package_is_the_wheel_not_the_checkout(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    probe = "import fastboard.resources as r; print(r.__file__); print(r.web_root())"
    module, web = run(installed / "python", "-c", probe, cwd=cwd, env=env).split()
    site = installed.parent / "lib"
    assert Path(module).is_relative_to(site)
    assert Path(web).is_relative_to(site)
    assert (Path(web) / "index.html").is_file()
    # The UI's libraries and their licences ship too: the wheel serves a working UI.
    for vendored in ("marked.esm.js", "purify.es.mjs", "README.md", "LICENSE.dompurify"):
        assert (Path(web) / "vendor" / vendored).is_file(), vendored


def test_the_wheel_migrates_and_checks_its_configuration(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    run(installed / "fastboard", "migrate", cwd=cwd, env=env)
    report = run(installed / "fastboard", "check-config", cwd=cwd, env=env)
    assert "ok    database: reachable" in report
    assert "ok    migrations: at head" in report


def test_the_wheel_renders_the_nginx_site_with_its_own_web_pages(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    site = run(installed / "fastboard", "nginx-conf", cwd=cwd, env=env)
    assert f"root {installed.parent / 'lib'}" in site
    assert "server unix:/run/fastboard/gunicorn.sock max_fails=0;" in site


def test_the_wheel_serves_the_api_and_the_landing_page(
    installed: Path, elsewhere: tuple[Path, dict[str, str]]
) -> None:
    cwd, env = elsewhere
    run(installed / "fastboard", "migrate", cwd=cwd, env=env)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(installed / "fastboard"), "serve", "--bind", f"127.0.0.1:{port}"]
    server = spawn(command, env=env, cwd=cwd, output=cwd / "serve.log")
    try:
        wait_until(lambda: http_ok(f"{url}/api/tags"), timeout=60, watch=server, what="serve")
        with urllib.request.urlopen(f"{url}/", timeout=10) as page:  # noqa: S310 - loopback
            assert b"fastboard" in page.read()
    finally:
        assert stop_process(server, signal.SIGTERM, 30) == 0
