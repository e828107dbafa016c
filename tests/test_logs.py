"""Log formatting and configuration: JSON lines, the request id, every server's loggers."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy import text

from fastboard.db import build_engine
from fastboard.logs import (
    HANDLER_NAME,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    gunicorn_logconfig,
    request_id_var,
)
from fastboard.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def record(message: str = "hello %s", *args: Any, **extra: Any) -> logging.LogRecord:
    made = logging.LogRecord(
        "fastboard.test", logging.INFO, __file__, 1, message, args or None, None
    )
    made.__dict__.update(extra)
    return made


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """configure_logging changes process-wide state; put it back for the other tests."""
    names = (
        "",
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "gunicorn.error",
        "gunicorn.access",
        "sqlalchemy.engine",
    )
    saved = {
        name: (
            logging.getLogger(name).handlers,
            logging.getLogger(name).propagate,
            logging.getLogger(name).level,
        )
        for name in names
    }
    yield
    for name, (handlers, propagate, level) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers = handlers
        logger.propagate = propagate
        logger.setLevel(level)


def test_json_line_parses_and_carries_the_request_id() -> None:
    token = request_id_var.set("req-42")
    try:
        line = JsonFormatter().format(record("hello %s", "world"))
    finally:
        request_id_var.reset(token)

    payload = json.loads(line)
    assert "\n" not in line
    assert payload["message"] == "hello world"
    assert payload["request_id"] == "req-42"
    assert payload["level"] == "INFO"
    assert payload["logger"] == "fastboard.test"
    assert payload["time"].endswith("+00:00")


def test_outside_a_request_the_request_id_is_a_dash() -> None:
    assert json.loads(JsonFormatter().format(record()))["request_id"] == "-"
    assert "[-]" in TextFormatter().format(record())


def test_extra_fields_become_keys_but_cannot_replace_the_standard_ones() -> None:
    payload = json.loads(JsonFormatter().format(record(route="/api/tags", level="forged")))

    assert payload["route"] == "/api/tags"
    assert payload["level"] == "INFO"


def test_exceptions_are_kept_inside_the_one_line() -> None:
    try:
        raise ValueError("broken")
    except ValueError:
        failing = logging.LogRecord(
            "fastboard.test", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    line = JsonFormatter().format(failing)

    assert "\n" not in line
    assert "ValueError: broken" in json.loads(line)["exc_info"]


def test_text_lines_carry_the_request_id() -> None:
    token = request_id_var.set("abc")
    try:
        line = TextFormatter().format(record("plain"))
    finally:
        request_id_var.reset(token)
    assert "[abc] fastboard.test: plain" in line


@pytest.mark.usefixtures("restore_logging")
def test_configure_logging_twice_leaves_one_handler_and_keeps_foreign_ones() -> None:
    foreign = logging.NullHandler()
    logging.getLogger().addHandler(foreign)
    try:
        configure_logging(Settings(env="test", log_json=False))
        configure_logging(Settings(env="test", log_json=True))
        root_handlers = logging.getLogger().handlers
        ours = [h for h in root_handlers if h.get_name() == HANDLER_NAME]
        assert len(ours) == 1
        assert isinstance(ours[0].formatter, JsonFormatter)
        assert foreign in root_handlers
    finally:
        logging.getLogger().removeHandler(foreign)


@pytest.mark.usefixtures("restore_logging")
def test_server_loggers_go_through_our_handler_and_uvicorn_access_is_silent() -> None:
    shared: list[logging.Handler] = [logging.NullHandler()]
    # As uvicorn-worker leaves them: one list object shared by two loggers.
    logging.getLogger("gunicorn.error").handlers = shared
    logging.getLogger("uvicorn.error").handlers = shared

    configure_logging(Settings(env="test"))

    for name in ("uvicorn", "uvicorn.error", "gunicorn.error", "gunicorn.access"):
        logger = logging.getLogger(name)
        assert logger.handlers == []
        assert logger.propagate
    assert len(shared) == 1, "the list shared with another logger must not be emptied"
    assert not logging.getLogger("uvicorn.access").hasHandlers()


def test_production_logs_json_and_development_logs_text() -> None:
    production = gunicorn_logconfig(Settings(env="production", secret_key="k" * 40))
    development = gunicorn_logconfig(Settings(env="development"))

    assert production["formatters"]["default"]["()"] == "fastboard.logs.JsonFormatter"
    assert development["formatters"]["default"]["()"] == "fastboard.logs.TextFormatter"


SERVERS_SCRIPT = textwrap.dedent(
    """
    import logging
    from gunicorn.config import Config
    from gunicorn.glogging import Logger
    from fastboard.logs import gunicorn_logconfig
    from fastboard.settings import Settings

    settings = Settings(env="test", log_json=True)
    cfg = Config()
    cfg.set("logconfig_dict", gunicorn_logconfig(settings))
    Logger(cfg)
    logging.getLogger("gunicorn.error").warning("gunicorn says hi")
    # Uvicorn's loggers in a Gunicorn worker, before the app configured anything.
    logging.getLogger("uvicorn.error").info("uvicorn says hi")
    logging.getLogger("uvicorn.access").info("uvicorn access line")
    """
)


def test_gunicorn_config_writes_json_lines_for_uvicorn_and_gunicorn() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SERVERS_SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    by_message = {line["message"]: line for line in lines}

    assert by_message["uvicorn says hi"]["logger"] == "uvicorn.error"
    assert by_message["gunicorn says hi"]["level"] == "WARNING"
    assert all(line["request_id"] == "-" for line in lines)
    assert "uvicorn access line" not in by_message


def test_gunicorn_config_gives_gunicorn_loggers_the_handler_directly() -> None:
    config = gunicorn_logconfig(Settings(env="test"))

    for name in ("gunicorn.error", "gunicorn.access"):
        assert config["loggers"][name] == {"handlers": [HANDLER_NAME], "propagate": False}
    assert config["disable_existing_loggers"] is False


async def _select_one(settings: Settings) -> None:
    engine = build_engine(settings)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


@pytest.mark.anyio
@pytest.mark.usefixtures("restore_logging")
@pytest.mark.parametrize(("echo", "printed"), [(True, 1), (False, 0)])
async def test_db_echo_prints_each_statement_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, echo: bool, printed: int
) -> None:
    settings = Settings(
        env="test", database_url=f"sqlite+aiosqlite:///{tmp_path}/echo.db", db_echo=echo
    )
    configure_logging(settings)
    capsys.readouterr()

    await _select_one(settings)

    written = capsys.readouterr()
    lines = (written.out + written.err).splitlines()
    assert [line.endswith("SELECT 1") for line in lines].count(True) == printed


@pytest.mark.usefixtures("restore_logging")
def test_the_log_level_applies_to_uvicorn_loggers(capsys: pytest.CaptureFixture[str]) -> None:
    # As `uvicorn main:app` leaves logging before importing the app: its handlers and
    # its own --log-level (info) on its loggers.
    uvicorn.Config("main:app", log_level="info")
    configure_logging(Settings(env="test", log_level="WARNING"))
    capsys.readouterr()

    logging.getLogger("uvicorn.error").info("Application startup complete.")
    logging.getLogger("uvicorn.error").warning("Invalid HTTP request received.")

    written = capsys.readouterr().err
    assert "Application startup complete." not in written
    assert written.count("Invalid HTTP request received.") == 1
