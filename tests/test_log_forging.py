"""No input forges a log line: control characters from clients (paths, query strings,
headers) or repeated by exceptions are escaped in both formats.

The rule a log reader can rely on: in JSON, one record per line; in text, every line that
starts in the first column starts a record (a traceback follows, indented). Neither
format ever carries a raw ESC or another control character.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator, MutableMapping
from typing import Any

import pytest
from fastapi import FastAPI

from fastboard.logs import JsonFormatter, TextFormatter, escape_controls
from fastboard.settings import Settings

pytestmark = pytest.mark.anyio

HOSTILE = [
    "line\nINFO forged record",
    "carriage\rreturn",
    "\x1b[2J\x1b[31mred",
    "next\u2028line",
    "c1\x85\x9bcontrol",
    "nul\x00byte",
    "del\x7f",
]
CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
TEXT_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ")


def _record(message: str, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord(
        "fastboard.test", logging.WARNING, __file__, 1, message, None, exc_info
    )


def _raised(message: str) -> BaseException:
    try:
        raise ValueError(message)
    except ValueError as exc:
        return exc


@pytest.mark.parametrize("hostile", HOSTILE)
def test_json_record_is_one_line_and_keeps_the_text(hostile: str) -> None:
    line = JsonFormatter().format(_record(f"got {hostile}", _raised(hostile)))

    assert "\n" not in line
    assert not CONTROL.search(line)
    parsed = json.loads(line)
    assert parsed["message"] == f"got {hostile}"  # escaped, not lost
    assert hostile in parsed["exc_info"]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_text_record_cannot_start_another(hostile: str) -> None:
    output = TextFormatter().format(_record(f"got {hostile}", _raised(hostile)))

    lines = output.split("\n")
    assert TEXT_RECORD.match(lines[0])
    assert all(line.startswith("  ") for line in lines[1:])  # the traceback, indented
    assert not CONTROL.search(output.replace("\n", ""))
    assert escape_controls(hostile) in lines[0]


def test_escapes_are_readable() -> None:
    assert escape_controls("a\nb\r\tc\x1b[0m\u2028") == "a\\nb\\r\\tc\\x1b[0m\\u2028"
    assert escape_controls("plain ünïcode") == "plain ünïcode"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    yield
    root.handlers[:], level = saved
    root.setLevel(level)


@pytest.fixture(params=[False, True], ids=["text", "json"])
def settings(
    request: pytest.FixtureRequest, session_settings: Settings, restore_logging: None
) -> Settings:
    return session_settings.model_copy(update={"log_json": request.param, "log_level": "INFO"})


async def _raw_request(app: FastAPI, raw_path: bytes, query: bytes, headers: list[Any]) -> int:
    """One request as a server would hand it over, bytes a client could send included."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": raw_path.decode("latin-1"),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
        "app": app,
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    return statuses[0]


async def test_hostile_requests_leave_one_record_each(
    app: FastAPI, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    sent = 0
    for hostile in HOSTILE:
        raw = hostile.encode("utf-8")
        headers = [
            (b"user-agent", raw),
            (b"x-request-id", raw),
            (b"referer", raw),
        ]
        await _raw_request(app, b"/api/profiles/" + raw, b"q=" + raw, headers)
        sent += 1
    output = capsys.readouterr().err
    access = [line for line in output.split("\n") if "fastboard.access" in line]

    assert "\x1b" not in output
    assert not CONTROL.search(output.replace("\n", ""))
    if settings.json_logs:
        records = [json.loads(line) for line in output.splitlines() if line.strip()]
        paths = [r["path"] for r in records if r.get("logger") == "fastboard.access"]
        assert len(paths) == sent
    else:
        assert len(access) == sent
        starts = [line for line in output.split("\n") if line and not line.startswith("  ")]
        assert all(TEXT_RECORD.match(line) for line in starts), starts
    assert not any(line.startswith("INFO forged") for line in output.split("\n"))
