"""Settings: a secret is mandatory in production; development generates one and keeps it."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from fastboard.security import create_token, decode_token
from fastboard.settings import Settings

GOOD_SECRET = "s" * 32


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No FASTBOARD_* variables and no stray .env: each test states what it configures."""
    for name in list(os.environ):
        if name.startswith("FASTBOARD_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_production_without_secret_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="FASTBOARD_SECRET_KEY must be set"):
        Settings(env="production", var_dir=tmp_path / "var")

    assert not (tmp_path / "var" / "secret_key").exists()


def test_production_from_environment_without_secret_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FASTBOARD_ENV", "production")

    with pytest.raises(ValidationError, match="FASTBOARD_SECRET_KEY must be set"):
        Settings()


def test_production_with_secret_from_environment_uses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FASTBOARD_ENV", "production")
    monkeypatch.setenv("FASTBOARD_SECRET_KEY", GOOD_SECRET)

    settings = Settings()

    assert settings.env == "production"
    assert settings.jwt_secret() == GOOD_SECRET
    assert not Path("var/secret_key").exists()


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        f"FASTBOARD_ENV=production\nFASTBOARD_SECRET_KEY={GOOD_SECRET}\n"
    )

    settings = Settings()

    assert settings.env == "production"
    assert settings.jwt_secret() == GOOD_SECRET


@pytest.mark.parametrize("env", ["development", "test", "production"])
def test_short_secret_is_refused_in_every_environment(env: str) -> None:
    with pytest.raises(ValidationError, match="at least 32 characters"):
        Settings(env=env, secret_key="s" * 31)


def test_secret_of_32_characters_is_accepted() -> None:
    assert Settings(env="production", secret_key=GOOD_SECRET).jwt_secret() == GOOD_SECRET


def test_dev_secret_is_generated_once_under_var_dir_with_mode_0600(tmp_path: Path) -> None:
    var_dir = tmp_path / "deep" / "var"

    secret = Settings(var_dir=var_dir).jwt_secret()

    path = var_dir / "secret_key"
    assert path.read_text() == secret
    assert len(secret) >= 64
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_dev_secret_is_reused_across_settings_instances(tmp_path: Path) -> None:
    first = Settings(var_dir=tmp_path / "var")
    secret = first.jwt_secret()

    second = Settings(var_dir=tmp_path / "var")

    assert second.jwt_secret() == secret
    assert first.jwt_secret() == secret
    assert (tmp_path / "var" / "secret_key").read_text() == secret


def test_tokens_from_one_process_are_valid_in_another(tmp_path: Path) -> None:
    """Workers are separate processes: each builds its own Settings from the same var_dir."""
    token = create_token(5, Settings(var_dir=tmp_path / "var"))

    assert decode_token(token, Settings(var_dir=tmp_path / "var")) == 5


def test_dev_secrets_differ_between_var_dirs(tmp_path: Path) -> None:
    one = Settings(var_dir=tmp_path / "one").jwt_secret()
    two = Settings(var_dir=tmp_path / "two").jwt_secret()

    assert one != two


def test_existing_secret_file_is_used(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    (var_dir / "secret_key").write_text("k" * 64 + "\n")

    assert Settings(var_dir=var_dir).jwt_secret() == "k" * 64


def test_empty_secret_file_is_never_used_as_the_key(tmp_path: Path) -> None:
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    (var_dir / "secret_key").write_text("")  # as another worker leaves it mid-write

    assert len(Settings(var_dir=var_dir).jwt_secret()) >= 32


def test_configured_secret_does_not_touch_var_dir(tmp_path: Path) -> None:
    Settings(secret_key=GOOD_SECRET, var_dir=tmp_path / "var").jwt_secret()

    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    ("env", "migrates", "json_logs"),
    [("development", True, False), ("test", False, False), ("production", False, True)],
)
def test_environment_defaults(env: str, migrates: bool, json_logs: bool) -> None:
    settings = Settings(env=env, secret_key=GOOD_SECRET)

    assert settings.should_migrate_on_start is migrates
    assert settings.json_logs is json_logs


def test_unknown_environment_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(env="staging")


@pytest.mark.parametrize(
    "field", ["jwt_ttl_seconds", "db_pool_size", "db_pool_timeout", "db_connect_timeout"]
)
def test_non_positive_limits_are_refused(field: str) -> None:
    values: dict[str, Any] = {field: 0}

    with pytest.raises(ValidationError):
        Settings(**values)
